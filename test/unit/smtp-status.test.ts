/**
 * What kapu knows of its mail server (issue 16, item 4), with a server that answers or not as
 * the test says and time moved by the test: the operator is told once when the server goes
 * away and once when it is back, however many probes fail meanwhile; while it is away it is
 * probed often enough for mail to leave within seconds of its return.
 */
import { jest } from '@jest/globals';
import { SMTP_STATUS_DEFAULTS, SmtpStatus } from '../../src/mail/smtp-status.ts';
import { captureLog } from '../helpers/captured-log.ts';

const WENT_AWAY = 'mail server unreachable: mail waits in the outbox and leaves once it answers';
const CAME_BACK = 'mail server answers again: the mail that waited is being sent';

/** A mail server the test switches on and off; it notes when it was probed. */
function mailServer(answers: boolean) {
  const server = {
    answers,
    probedAt: [] as number[],
    probe: async () => {
      server.probedAt.push(Date.now());
      if (!server.answers) throw new Error('connect ECONNREFUSED 192.0.2.25:25');
    },
  };
  return server;
}

describe('the mail server as kapu sees it', () => {
  beforeEach(() => jest.useFakeTimers({ now: new Date('2026-12-07T10:00:00Z') }));
  afterEach(() => jest.useRealTimers());

  function watch(server: ReturnType<typeof mailServer>) {
    const captured = captureLog();
    const changes: string[] = [];
    const status = new SmtpStatus({ probe: server.probe, log: captured.log, onChange: (state) => changes.push(state) });
    return { status, captured, changes };
  }

  test('away at start: said once, probed at most a second apart while away, and its return said once', async () => {
    const server = mailServer(false);
    const { status, captured, changes } = watch(server);
    status.start();
    await jest.advanceTimersByTimeAsync(0);
    expect([status.state, status.up]).toEqual(['down', false]);

    await jest.advanceTimersByTimeAsync(30_000);
    const gaps = server.probedAt.slice(1).map((t, i) => t - server.probedAt[i]!);
    expect(gaps.slice(0, 3)).toEqual([250, 500, 1_000]);
    expect(new Set(gaps.slice(3))).toEqual(new Set([1_000]));
    expect(captured.count(WENT_AWAY)).toBe(1);
    expect(captured.lines.find((l) => l.msg === WENT_AWAY)?.['err']).toBe('Error: connect ECONNREFUSED 192.0.2.25:25');

    server.answers = true;
    await jest.advanceTimersByTimeAsync(1_000);
    expect([status.state, status.up]).toEqual(['up', true]);
    expect([captured.count(WENT_AWAY), captured.count(CAME_BACK)]).toEqual([1, 1]);
    expect(changes).toEqual(['down', 'up']);
    await status.stop();
  });

  test('answering: checked once a minute, and found gone at once when a send fails or another replica says so', async () => {
    const server = mailServer(true);
    const { status, captured, changes } = watch(server);
    status.start();
    await jest.advanceTimersByTimeAsync(0);
    // The first verdict, up, is nothing to tell.
    expect([status.state, captured.lines, changes]).toEqual(['up', [], []]);
    await jest.advanceTimersByTimeAsync(SMTP_STATUS_DEFAULTS.checkMs);
    expect(server.probedAt).toHaveLength(2);

    // Another replica found it gone: this one looks at once, and says so once.
    server.answers = false;
    status.heard('down');
    await jest.advanceTimersByTimeAsync(0);
    expect([status.state, changes, captured.count(WENT_AWAY)]).toEqual(['down', ['down'], 1]);
    const probes = server.probedAt.length;
    status.heard('down');
    await jest.advanceTimersByTimeAsync(0);
    expect(server.probedAt).toHaveLength(probes);

    // A send asks while a probe is under way: one probe answers both.
    server.answers = true;
    const [a, b] = await Promise.all([status.probe(), status.probe()]);
    expect([a, b, server.probedAt.length]).toEqual([true, true, probes + 1]);
    expect(captured.count(CAME_BACK)).toBe(1);
    await status.stop();
  });

  test('a probe that never settles counts as failed', async () => {
    const captured = captureLog();
    const status = new SmtpStatus({ probe: () => new Promise(() => {}), log: captured.log });
    const answer = status.probe();
    await jest.advanceTimersByTimeAsync(SMTP_STATUS_DEFAULTS.probeTimeoutMs);
    expect(await answer).toBe(false);
    expect(captured.lines.find((l) => l.msg === WENT_AWAY)?.['err']).toBe('Error: SMTP probe timed out after 30000 ms');
    await status.stop();
  });

  test('with nothing to probe (the development mailbox) mail is always up', async () => {
    const status = new SmtpStatus({ probe: null, log: captureLog().log });
    status.start();
    expect([status.state, await status.probe()]).toEqual(['up', true]);
    await status.stop();
  });
});
