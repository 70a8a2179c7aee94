/** `kapu account …`: citizens' accounts, their second factors, and operator unlock. */
import { NewAccountInput, addFactor, createAccount } from '../admin/accounts.ts';
import { CliFailure, UsageError, parse, printable, required } from './args.ts';
import { type Command, isoTime } from './context.ts';
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
      cli.out(account.id);
    });
  },
};

function checkPassword(command: string, password: string): string {
  const checked = NewAccountInput.shape.password.safeParse(password);
  if (!checked.success) throw new UsageError(`${command}: ${checked.error.issues[0]!.message}`);
  return password;
}

const list: Command = {
  name: 'account list',
  synopsis: '[--json]',
  summary: 'list accounts with their factors',
  async run(cli, args) {
    const { values } = parse(this.name, args, { json: { type: 'boolean' } });
    await cli.withDeps(async (deps) => {
      const accounts = await deps.repos.accounts.list();
      const rows = [];
      for (const account of accounts) {
        rows.push({ ...account, factors: await deps.repos.factors.kinds(account.id) });
      }
      if (values.json) {
        cli.json(rows.map((a) => ({ id: a.id, username: a.username, name: a.name, email: a.email, factors: a.factors, createdAt: a.created_at })));
        return;
      }
      if (rows.length === 0) return cli.out('no accounts');
      cli.table(
        ['USERNAME', 'NAME', 'EMAIL', 'FACTORS', 'CREATED', 'ID'],
        rows.map((a) => [a.username, a.name, a.email, a.factors.join(',') || '- (password only)', isoTime(a.created_at), a.id]),
      );
    });
  },
};

const addEmailFactor: Command = {
  name: 'account add-email-factor',
  synopsis: 'USERNAME',
  summary: 'give an account the emailed-code factor (Ügyfélkapu+ e-mailes kóddal)',
  async run(cli, args) {
    const { positionals } = parse(this.name, args, {}, ['USERNAME']);
    const username = positionals[0]!;
    await cli.withDeps(async (deps) => {
      const account = await deps.repos.accounts.findByUsername(username);
      if (!account) throw new CliFailure(`no account "${printable(username)}"`);
      if ((await deps.repos.factors.kinds(account.id)).includes('email')) {
        return cli.out(`${printable(account.username)} already has the emailed-code factor (codes go to ${printable(account.email)})`);
      }
      await addFactor(deps, account.username, 'email');
      cli.out(`emailed-code factor added for ${printable(account.username)}: codes go to ${printable(account.email)}`);
    });
  },
};

const addTotp: Command = {
  name: 'account add-totp',
  synopsis: 'USERNAME [--replace]',
  summary: 'give an account an authenticator-app factor; prints its otpauth:// URI once',
  async run(cli, args) {
    const { values, positionals } = parse(this.name, args, { replace: { type: 'boolean' } }, ['USERNAME']);
    const username = positionals[0]!;
    cli.requirePersistentKeys();
    await cli.withDeps(async (deps) => {
      const account = await deps.repos.accounts.findByUsername(username);
      if (!account) throw new CliFailure(`no account "${printable(username)}"`);
      // A new secret silently replaces the old one: the citizen's phone would stop working.
      if (!values.replace && (await deps.repos.factors.kinds(account.id)).includes('totp')) {
        throw new CliFailure(`${printable(account.username)} already has an authenticator app; --replace issues a new secret and the old one stops working`);
      }
      const { secretForDisplay } = await addFactor(deps, account.username, 'totp');
      cli.out(`authenticator-app factor added for ${printable(account.username)}.`);
      cli.out('This URI is the secret and is shown only once: hand it to the account holder over a safe channel (e.g. as a QR code).');
      cli.out(secretForDisplay ?? '');
    });
  },
};

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
      cli.out(`sign-in locks lifted for ${printable(username)}${account ? '' : ' (no such account)'}`);
    });
  },
};

export const accountCommands: Command[] = [add, list, addEmailFactor, addTotp, unlock];
