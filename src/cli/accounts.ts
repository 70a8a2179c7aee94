/** `kapu account …`: citizens' accounts, their second factors, and operator unlock. */
import { createReadStream, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import cliProgress from 'cli-progress';
import {
  NewAccountInput,
  createAccount,
  disableAccount,
  enableAccount,
  removeAccount,
  setPassword,
} from '../admin/accounts.ts';
import { type ImportReport, importAccounts } from '../admin/import.ts';
import { FACTORS } from '../factors/index.ts';
import { factorCommands } from './factors.ts';
import { usernameCommand } from './context.ts';
import { CliFailure, UsageError, integer, parse, printable, required } from './args.ts';
import { type Cli, type Command, isoTime } from './context.ts';
import { isTerminal, readNewPassword } from './password.ts';

/** Everything but the password: checked before the database is opened or a prompt shown. */
const AccountArgs = NewAccountInput.omit({ password: true });

const add: Command = {
  name: 'account add',
  synopsis: '--username U --name N --email E   (password on stdin, or asked for)',
  summary: 'create an account; prints its id',
  async run(cli, args) {
    const { values } = parse(this.name, args, {
      username: { type: 'string' },
      name: { type: 'string' },
      email: { type: 'string' },
    });
    const given = {
      username: required(this.name, values.username, '--username'),
      name: required(this.name, values.name, '--name'),
      email: required(this.name, values.email, '--email'),
    };
    const checked = AccountArgs.safeParse(given);
    if (!checked.success) throw new UsageError(`${this.name}: ${checked.error.issues[0]!.message}`);
    const { username } = checked.data;

    // Piped: read and check the password before opening the database. At a terminal: first
    // make sure the username is free, so nobody types a password only to have it refused.
    const piped = isTerminal(cli.io.stdin) ? undefined : checkPassword(this.name, await readNewPassword(cli.io, username));
    await cli.withDeps(async (deps) => {
      if (await deps.repos.accounts.findByUsername(username)) throw new CliFailure(`username "${printable(username)}" is taken`);
      const password = piped ?? checkPassword(this.name, await readNewPassword(cli.io, username));
      const account = await createAccount(deps, { ...given, password });
      cli.result({ id: account.id, username: account.username }, () => cli.out(account.id));
    });
  },
};

function checkPassword(command: string, password: string): string {
  const checked = NewAccountInput.shape.password.safeParse(password);
  if (!checked.success) throw new UsageError(`${command}: ${checked.error.issues[0]!.message}`);
  return password;
}

/** `--factor`: an account that has this factor, or `none` (password only). */
const FACTOR_FILTERS = [...FACTORS.map((f) => f.id), 'none'];

const list: Command = {
  name: 'account list',
  synopsis: `[--search TEXT] [--disabled|--enabled] [--factor ${FACTOR_FILTERS.join('|')}] [--limit N] [--after USERNAME] [--json]`,
  summary: 'list accounts in username order, a page at a time (default 100; --after the last one shown for the next)',
  async run(cli, args) {
    const { values } = parse(this.name, args, {
      search: { type: 'string' },
      disabled: { type: 'boolean' },
      enabled: { type: 'boolean' },
      factor: { type: 'string' },
      limit: { type: 'string' },
      after: { type: 'string' },
    });
    const limit = integer(this.name, values.limit, '--limit', 1, 10_000, 100);
    if (values.disabled && values.enabled) throw new UsageError(`${this.name}: give --disabled or --enabled, not both`);
    if (values.factor !== undefined && !FACTOR_FILTERS.includes(values.factor)) {
      throw new UsageError(`${this.name}: --factor must be one of ${FACTOR_FILTERS.join(', ')}`);
    }
    await cli.withDeps(async (deps) => {
      const rows = await deps.repos.accounts.page({
        limit,
        ...(values.search && { search: values.search }),
        ...(values.disabled && { disabled: true }),
        ...(values.enabled && { disabled: false }),
        ...(values.factor && { factor: values.factor }),
        ...(values.after && { after: values.after }),
      });
      const accounts = rows.map((a) => ({
        id: a.id,
        username: a.username,
        name: a.name,
        email: a.email,
        factors: a.factor_kinds,
        disabled: a.disabled_at !== null,
        disabledAt: a.disabled_at,
        createdAt: a.created_at,
      }));
      cli.result(accounts, () => {
        if (accounts.length === 0) return cli.out('no accounts');
        cli.table(
          ['USERNAME', 'NAME', 'EMAIL', 'FACTORS', 'STATE', 'CREATED', 'ID'],
          accounts.map((a) => [a.username, a.name, a.email, a.factors.join(',') || '- (password only)', a.disabled ? 'disabled' : 'active', isoTime(a.createdAt), a.id]),
        );
        if (accounts.length === limit) cli.note(`more may follow: --after ${accounts.at(-1)!.username}`);
      });
    });
  },
};

const show: Command = {
  name: 'account show',
  synopsis: 'USERNAME [--json]',
  summary: 'show one account: state, factors, recent security events (never a password or secret)',
  async run(cli, args) {
    const { positionals } = parse(this.name, args, {}, ['USERNAME']);
    const username = positionals[0]!;
    await cli.withDeps(async (deps) => {
      const account = await deps.repos.accounts.detailByUsername(username);
      if (!account) throw new CliFailure(`no account "${printable(username)}"`);
      const factors = await deps.repos.factors.list(account.id);
      const events = await deps.repos.audit.list({ accountId: account.id, limit: 10 });
      const shown = {
        id: account.id,
        username: account.username,
        name: account.name,
        email: account.email,
        disabled: account.disabled_at !== null,
        disabledAt: account.disabled_at,
        createdAt: account.created_at,
        updatedAt: account.updated_at,
        factors: factors.map((f) => ({ kind: f.kind, createdAt: f.created_at, lastUsedAt: f.last_used_at })),
        recentEvents: events.map((e) => ({ at: e.at, type: e.type, clientId: e.client_id, ip: e.ip })),
      };
      cli.result(shown, () => {
        cli.out(printable(`username   ${shown.username}`));
        cli.out(printable(`name       ${shown.name}`));
        cli.out(printable(`email      ${shown.email}`));
        cli.out(`state      ${shown.disabled ? `disabled since ${isoTime(shown.disabledAt!)}` : 'active'}`);
        cli.out(`created    ${isoTime(shown.createdAt)}`);
        cli.out(`id         ${shown.id}`);
        cli.out(`factors    ${shown.factors.map((f) => `${f.kind} (since ${isoTime(f.createdAt)}${f.lastUsedAt ? `, last used ${isoTime(f.lastUsedAt)}` : ''})`).join('; ') || '- (password only)'}`);
        cli.out('recent events:');
        for (const e of shown.recentEvents) cli.out(printable(`  ${isoTime(e.at)}  ${e.type}  ${e.clientId ?? '-'}  ${e.ip ?? '-'}`));
      });
    });
  },
};

const disable = usernameCommand('account disable', 'disable an account: it cannot sign in anywhere; its sessions and tokens end at once', (cli, username) =>
  cli.withDeps(async (deps) => {
    const { changed, ended } = await disableAccount(deps, username);
    cli.result({ username, disabled: true, changed, endedSessionsAndTokens: ended }, () =>
      cli.out(`${printable(username)} ${changed ? 'disabled' : 'was already disabled'}; ${ended} session(s), grant(s) and token(s) ended`),
    );
  }),
);

const enable = usernameCommand('account enable', 'enable a disabled account again', (cli, username) =>
  cli.withDeps(async (deps) => {
    const { changed } = await enableAccount(deps, username);
    cli.result({ username, disabled: false, changed }, () => cli.out(`${printable(username)} ${changed ? 'enabled' : 'was not disabled'}`));
  }),
);

const setPasswordCommand: Command = {
  name: 'account set-password',
  synopsis: 'USERNAME   (the new password on stdin, or asked for)',
  summary: 'set a new password (support desk); every session and token of the account ends, its locks are lifted',
  async run(cli, args) {
    const { positionals } = parse(this.name, args, {}, ['USERNAME']);
    const username = positionals[0]!;
    const piped = isTerminal(cli.io.stdin) ? undefined : checkPassword(this.name, await readNewPassword(cli.io, username));
    await cli.withDeps(async (deps) => {
      if (!(await deps.repos.accounts.findByUsername(username))) throw new CliFailure(`no account "${printable(username)}"`);
      const password = piped ?? checkPassword(this.name, await readNewPassword(cli.io, username));
      await setPassword(deps, username, password);
      cli.result({ username, passwordSet: true }, () => cli.out(`new password set for ${printable(username)}; its sessions and tokens have ended`));
    });
  },
};

const remove: Command = {
  name: 'account remove',
  synopsis: 'USERNAME --yes',
  summary: 'remove an account with its factors, sessions, tokens, flows and codes (the audit trail stays)',
  async run(cli, args) {
    const { values, positionals } = parse(this.name, args, { yes: { type: 'boolean' } }, ['USERNAME']);
    const username = positionals[0]!;
    if (!values.yes) throw new UsageError(`${this.name}: removing an account cannot be undone: add --yes to confirm`);
    await cli.withDeps(async (deps) => {
      await removeAccount(deps, username);
      cli.result({ username, removed: true }, () => cli.out(`account ${printable(username)} removed`));
    });
  },
};

const importCommand: Command = {
  name: 'account import',
  synopsis: 'FILE|-   (CSV: username,name,email[,password_hash]; - reads stdin)',
  summary: 'import accounts in bulk; existing usernames are skipped, bad rows reported (exit 1 if any)',
  async run(cli, args) {
    const { positionals } = parse(this.name, args, {}, ['FILE']);
    const file = positionals[0]!;
    let input: NodeJS.ReadableStream;
    let size: number | null = null;
    if (file === '-') {
      input = typeof cli.io.stdin === 'string' ? Readable.from([cli.io.stdin]) : cli.io.stdin;
    } else {
      try {
        size = statSync(file).size;
      } catch (err) {
        throw new UsageError(`${this.name}: cannot read ${printable(file)}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
      }
      input = createReadStream(file);
    }
    await cli.withDeps(async (deps) => {
      const report = await withProgress(cli, size, (onProgress) => importAccounts(deps, input, onProgress));
      cli.result(report, () => {
        for (const r of report.rejected) cli.out(printable(`line ${r.line}: rejected${r.username ? ` (${r.username})` : ''}: ${r.reason}`));
        cli.out(`${report.rows} row(s): ${report.imported} imported, ${report.existing} already there, ${report.rejected.length} rejected`);
      });
      // Some rows did not go in: scripts must notice (the rest did, and a re-run is safe).
      if (report.rejected.length > 0) cli.exitCode = 1;
    });
  },
};

/**
 * A progress bar (cli-progress) on a terminal; otherwise a count line on stderr every 10,000
 * rows, so a log shows the import moving.
 */
async function withProgress(
  cli: Cli,
  size: number | null,
  run: (onProgress: (state: { rows: number; bytes: number; imported: number; existing: number; rejected: number }) => void) => Promise<ImportReport>,
): Promise<ImportReport> {
  const terminal = cli.io.progress;
  if (terminal && !cli.jsonMode) {
    const bar = new cliProgress.SingleBar(
      {
        stream: terminal,
        format: size ? '{bar} {percentage}% | {rows} rows | {imported} new, {existing} existing, {rejected} rejected | {eta_formatted}' : '{rows} rows | {imported} new, {existing} existing, {rejected} rejected',
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(size ?? 0, 0, { rows: 0, imported: 0, existing: 0, rejected: 0 });
    try {
      return await run((s) => bar.update(size ? Math.min(s.bytes, size) : 0, s));
    } finally {
      bar.stop();
    }
  }
  let next = 10_000;
  return run((s) => {
    if (s.rows < next) return;
    next = s.rows + 10_000;
    cli.note(`${s.rows} rows read: ${s.imported} imported, ${s.existing} already there, ${s.rejected} rejected`);
  });
}

const unlock: Command = {
  name: 'account unlock',
  synopsis: 'USERNAME',
  summary: 'lift a sign-in lock (e.g. after 100 failed attempts in a row)',
  async run(cli, args) {
    const { positionals } = parse(this.name, args, {}, ['USERNAME']);
    const username = positionals[0]!;
    await cli.withDeps(async (deps) => {
      // Unknown usernames are throttled like real ones, so their lock can be lifted too.
      const account = await deps.repos.accounts.findByUsername(username);
      await deps.throttle.unlock(deps.repos.throttle, username, account?.id);
      await deps.repos.audit.record({ type: 'account.unlocked', accountId: account?.id ?? null, detail: { by: 'operator' } }, deps.clock.now());
      cli.result({ username, unlocked: true, account: account !== undefined }, () =>
        cli.out(`sign-in locks lifted for ${printable(username)}${account ? '' : ' (no such account)'}`),
      );
    });
  },
};

export const accountCommands: Command[] = [
  add,
  show,
  list,
  importCommand,
  disable,
  enable,
  setPasswordCommand,
  ...factorCommands,
  unlock,
  remove,
];
