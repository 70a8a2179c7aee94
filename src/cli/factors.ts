/** `kapu account factors|add-factor|remove-factor`: an account's second factors, asked of the registry. */
import { addFactor, removeFactor } from '../admin/accounts.ts';
import { FACTORS } from '../factors/index.ts';
import { CliFailure, UsageError, parse, printable } from './args.ts';
import { type Command, isoTime, usernameCommand } from './context.ts';

const factors = usernameCommand('account factors', "list an account's second factors", (cli, username) =>
  cli.withDeps(async (deps) => {
    const account = await deps.repos.accounts.findByUsername(username);
    if (!account) throw new CliFailure(`no account "${printable(username)}"`);
    const rows = (await deps.repos.factors.list(account.id)).map((f) => ({ kind: f.kind, createdAt: f.created_at, lastUsedAt: f.last_used_at }));
    cli.result(rows, () => {
      if (rows.length === 0) return cli.out(`${printable(username)} has no second factor (password only)`);
      cli.table(['FACTOR', 'SINCE', 'LAST USED'], rows.map((f) => [f.kind, isoTime(f.createdAt), f.lastUsedAt ? isoTime(f.lastUsedAt) : '-']));
    });
  }),
);

const removeFactorCommand: Command = {
  name: 'account remove-factor',
  synopsis: `USERNAME ${FACTORS.map((f) => f.id).join('|')}`,
  summary: 'remove a second factor of an account with all it owns (a lost phone, an address gone)',
  async run(cli, args) {
    const { positionals } = parse(this.name, args, {}, ['USERNAME', 'FACTOR']);
    const [username, kind] = positionals as [string, string];
    await cli.withDeps(async (deps) => {
      if (!deps.factors.with(kind, 'removal')) throw new UsageError(`${this.name}: unknown factor "${printable(kind)}"`);
      await removeFactor(deps, username, kind);
      cli.result({ username, removedFactor: kind }, () => cli.out(`factor ${kind} removed from ${printable(username)}`));
    });
  },
};

/** The factors an operator can give, each with its own options and help. */
const GIVEN = FACTORS.filter((f) => f.cli);

const addFactorCommand: Command = {
  name: 'account add-factor',
  synopsis: `USERNAME ${GIVEN.map((f) => f.id).join('|')} [the factor's options]`,
  summary: [
    'give an account a second factor as an operator (no proof asked of the citizen):',
    ...GIVEN.flatMap((f) => [`  ${f.id}: ${f.cli!.help}`, ...Object.entries(f.cli!.options ?? {}).map(([flag, help]) => `      --${flag}: ${help}`)]),
  ].join('\n      '),
  async run(cli, args) {
    const flags = Object.fromEntries(GIVEN.flatMap((f) => Object.keys(f.cli!.options ?? {})).map((flag) => [flag, { type: 'boolean' as const }]));
    const { values, positionals } = parse(this.name, args, flags, ['USERNAME', 'KIND']);
    const [username, kind] = positionals as [string, string];
    const given = GIVEN.find((f) => f.id === kind)?.cli;
    if (!given) throw new UsageError(`${this.name}: unknown factor "${printable(kind)}" (one of ${GIVEN.map((f) => f.id).join(', ')})`);
    const own = Object.keys(given.options ?? {});
    const foreign = Object.keys(values).find((flag) => values[flag] && !own.includes(flag));
    if (foreign) throw new UsageError(`${this.name}: --${foreign} is no option of ${kind}`);
    if (given.sealsSecret) cli.requirePersistentKeys();
    await cli.withDeps(async (deps) => {
      const account = await deps.repos.accounts.findByUsername(username);
      if (!account) throw new CliFailure(`no account "${printable(username)}"`);
      const shown = { username: printable(account.username), email: printable(account.email) };
      if ((await deps.repos.factors.kinds(account.id)).includes(kind)) {
        const { again } = given;
        if ('keep' in again) {
          if (cli.jsonMode) return cli.json({ username: account.username, factor: kind, added: false });
          return given.said(shown, { added: false }).forEach((line) => cli.out(line));
        }
        if (!values[again.replaceFlag]) throw new CliFailure(again.refusal(shown.username));
      }
      const { secretForDisplay } = await addFactor(deps, account.username, kind);
      const result = { username: account.username, factor: kind, added: true, ...(given.shownAs && { [given.shownAs]: secretForDisplay }) };
      cli.result(result, () => given.said(shown, { added: true, ...(secretForDisplay && { shown: secretForDisplay }) }).forEach((line) => cli.out(line)));
    });
  },
};

export const factorCommands: Command[] = [factors, addFactorCommand, removeFactorCommand];
