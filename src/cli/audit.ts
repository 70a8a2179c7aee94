/** `kapu audit list`: the append-only security event log, newest first. */
import { CliFailure, UsageError, integer, parse, printable } from './args.ts';
import { type Command, isoTime } from './context.ts';

const list: Command = {
  name: 'audit list',
  synopsis: '[--account USERNAME] [--type TYPE] [--limit N] [--json]',
  summary: 'show security events, newest first (default 50)',
  async run(cli, args) {
    const { values } = parse(this.name, args, {
      account: { type: 'string' },
      type: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
    });
    const limit = integer(this.name, values.limit, '--limit', 1, 10_000, 50);
    if (values.type !== undefined && !/^[a-z_]+(\.[a-z_]+)*$/.test(values.type)) {
      throw new UsageError(`${this.name}: --type looks like signin.succeeded or factor.enrolled`);
    }
    await cli.withDeps(async (deps) => {
      let accountId: string | undefined;
      if (values.account !== undefined) {
        const account = await deps.repos.accounts.findByUsername(values.account);
        if (!account) throw new CliFailure(`no account "${printable(values.account)}"`);
        accountId = account.id;
      }
      const events = await deps.repos.audit.list({ limit, ...(accountId && { accountId }), ...(values.type && { type: values.type }) });
      if (values.json) {
        return cli.json(
          events.map((e) => ({ id: e.id, at: e.at, type: e.type, accountId: e.account_id, clientId: e.client_id, ip: e.ip, detail: e.detail })),
        );
      }
      if (events.length === 0) return cli.out('no events');
      for (const e of events) {
        cli.out(printable([isoTime(e.at), e.type, e.account_id ?? '-', e.client_id ?? '-', e.ip ?? '-', JSON.stringify(e.detail ?? {})].join('  ')));
      }
    });
  },
};

export const auditCommands: Command[] = [list];
