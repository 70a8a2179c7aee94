/** `kapu audit list`: the append-only security event log, newest first. */
import { CliFailure, UsageError, integer, parse, printable } from './args.ts';
import { type Command, isoTime } from './context.ts';

/** An ISO 8601 date or date-time (a date alone is midnight UTC). */
function time(command: string, value: string | undefined, flag: string): Date | undefined {
  if (value === undefined) return undefined;
  const parsed = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value) ? new Date(value) : null;
  if (!parsed || Number.isNaN(parsed.getTime())) throw new UsageError(`${command}: ${flag} must be a date or time like 2026-12-01 or 2026-12-01T08:00:00Z`);
  return parsed;
}

const list: Command = {
  name: 'audit list',
  synopsis: '[--account USERNAME] [--client ID] [--type TYPE] [--since TIME] [--until TIME] [--before EVENT_ID] [--limit N] [--json]',
  summary: 'show security events, newest first (default 50); --json exports them',
  async run(cli, args) {
    const { values } = parse(this.name, args, {
      account: { type: 'string' },
      client: { type: 'string' },
      type: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      before: { type: 'string' },
      limit: { type: 'string' },
    });
    const limit = integer(this.name, values.limit, '--limit', 1, 100_000, 50);
    if (values.type !== undefined && !/^[a-z_]+(\.[a-z_]+)*$/.test(values.type)) {
      throw new UsageError(`${this.name}: --type looks like signin.succeeded or factor.enrolled`);
    }
    if (values.before !== undefined && !/^\d{1,18}$/.test(values.before)) throw new UsageError(`${this.name}: --before takes an event id (a number)`);
    const since = time(this.name, values.since, '--since');
    const until = time(this.name, values.until, '--until');
    if (since && until && since >= until) throw new UsageError(`${this.name}: --since must be before --until`);
    await cli.withDeps(async (deps) => {
      let accountId: string | undefined;
      if (values.account !== undefined) {
        const account = await deps.repos.accounts.findByUsername(values.account);
        // A removed account's events stay: its id (from an earlier export) finds them too.
        accountId = account?.id ?? (/^[0-9a-f-]{36}$/.test(values.account) ? values.account : undefined);
        if (!accountId) throw new CliFailure(`no account "${printable(values.account)}"`);
      }
      const events = await deps.repos.audit.list({
        limit,
        ...(accountId && { accountId }),
        ...(values.client && { clientId: values.client }),
        ...(values.type && { type: values.type }),
        ...(since && { since }),
        ...(until && { until }),
        ...(values.before && { before: values.before }),
      });
      cli.result(
        events.map((e) => ({ id: e.id, at: e.at, type: e.type, accountId: e.account_id, clientId: e.client_id, ip: e.ip, detail: e.detail })),
        () => {
          if (events.length === 0) return cli.out('no events');
          for (const e of events) {
            cli.out(printable([isoTime(e.at), e.type, e.account_id ?? '-', e.client_id ?? '-', e.ip ?? '-', JSON.stringify(e.detail ?? {})].join('  ')));
          }
          if (events.length === limit) cli.note(`more may follow: --before ${events.at(-1)!.id}`);
        },
      );
    });
  },
};

export const auditCommands: Command[] = [list];
