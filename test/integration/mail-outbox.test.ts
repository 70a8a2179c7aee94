/**
 * The mail outbox's rules, kept by its claim on a real database (issue 16, item 3): whichever
 * replica sends, mails to one address leave in the order they were queued; a code mail leaves
 * only while its code is live; a claim is one sender's for as long as it renews it, and no two
 * senders ever hold one mail. The sender's side (what it does with a claim) is in
 * test/unit/mail-sender.test.ts.
 */
import type { ClaimedMail } from '../../src/db/repositories/mail-outbox.ts';
import { AAD } from '../../src/security/secret-box.ts';
import { type CoreHarness, startCore } from '../helpers/core.ts';

const LEASE = 60;

describe('the mail outbox', () => {
  let core: CoreHarness;
  beforeAll(async () => {
    core = await startCore();
  });
  afterEach(async () => {
    // Each test starts from an empty queue: what one left waiting is not another's to claim.
    await core.deps.db.updateTable('mail_outbox').set({ sent_at: new Date(), message_sealed: null }).where('sent_at', 'is', null).execute();
  });
  afterAll(async () => {
    await core?.close();
  });

  const outbox = () => core.deps.repos.outbox;
  const claim = (sent?: ClaimedMail, lease = LEASE) => outbox().claimNext(core.clock.now(), lease, sent?.id);
  const subject = (mail: ClaimedMail | undefined) => mail?.messageSealed && (JSON.parse(core.deps.box.openText(mail.messageSealed, AAD.outbox)) as { subject: string }).subject;

  async function queue(to: string, subjectLine: string): Promise<void> {
    await core.deps.mailer.queue(outbox(), { to, subject: subjectLine, text: subjectLine, html: `<p>${subjectLine}</p>` }, core.clock.now());
  }

  /** A sign-in code for the account's flow, issued and its mail queued as kapu does. */
  async function codeMail(account: { id: string; username: string; email: string }, flowId: string): Promise<void> {
    await core.deps.uow.transaction((r) => core.deps.codes.send(r, 'signin', flowId, { ...account, name: account.username }, 'hu'));
  }

  test('mails to one address leave in the order they were queued; mail to another address does not wait for them', async () => {
    await queue('sorrend.anna@example.hu', 'első');
    await queue('sorrend.anna@example.hu', 'második');
    await queue('mas.bela@example.hu', 'Bélának');

    const first = await claim();
    expect(subject(first)).toBe('első');
    // Anna's second mail waits while her first is being sent; Béla's goes meanwhile.
    const bela = await claim();
    expect(subject(bela)).toBe('Bélának');
    expect(await claim()).toBeUndefined();
    expect(await claim(bela)).toBeUndefined();
    // Recorded as sent in the statement that claims the next: then the second is free to go.
    expect(subject(await claim(first))).toBe('második');
  });

  test('a mail waiting for the server keeps its place; one the server refused by itself no longer holds up the next', async () => {
    await queue('varo.vera@example.hu', 'első');
    await queue('varo.vera@example.hu', 'második');
    const first = (await claim())!;
    await outbox().release(first, 'connect ECONNREFUSED', core.clock.now());
    const again = (await claim())!;
    expect([again.id, subject(again)]).toEqual([first.id, 'első']);

    await outbox().markRefused(again, '550 mailbox unavailable', new Date(core.clock.now().getTime() + 60_000));
    expect(subject(await claim())).toBe('második');
  });

  test('a code mail leaves only while its code is live: replaced, used or expired first, it is withdrawn at its claim, body and all', async () => {
    const account = await core.account('elavult.elek');
    const pending = () => core.deps.db.selectFrom('mail_outbox').select(['withdrawn_at', 'message_sealed', 'sent_at']).where('recipient', '=', account.email).orderBy('id').execute();

    // Replaced: a new code (after the cool-down) before the first one's mail could leave.
    await codeMail(account, 'csere');
    core.clock.advance(61);
    await codeMail(account, 'csere');
    const replaced = (await claim())!;
    expect(replaced).toMatchObject({ withdrawn: true, messageSealed: null });
    const live = (await claim())!;
    expect(live.withdrawn).toBe(false);
    expect(subject(live)).toBe('Ügyfélkapu+ hitelesítő kód');
    await claim(live);

    // Used: its mail went out on an earlier try that was never recorded, and the code signed in.
    await codeMail(account, 'hasznalt');
    const tried = (await claim())!;
    await outbox().release(tried, 'connection closed', core.clock.now());
    const code = /(?:Hitelesítő kód): (\d{6})/.exec((JSON.parse(core.deps.box.openText(tried.messageSealed!, AAD.outbox)) as { text: string }).text)![1]!;
    expect(await core.deps.codes.check(core.deps.repos, 'signin', 'hasznalt', account.id, code)).toEqual({ ok: true });
    expect(await claim()).toMatchObject({ id: tried.id, withdrawn: true });

    // Expired while the mail waited.
    await codeMail(account, 'lejart');
    core.clock.advance(601);
    expect(await claim()).toMatchObject({ withdrawn: true });

    const rows = await pending();
    expect(rows.map((r) => [r.withdrawn_at !== null, r.sent_at !== null, r.message_sealed])).toEqual([
      [true, false, null],
      [false, true, null],
      [true, false, null],
      [true, false, null],
    ]);
    expect(await outbox().pendingCount()).toBe(0);
  });

  test('a claim is its sender\'s while it renews it; once it has run out another sender takes the mail, and the first can no longer renew it', async () => {
    await queue('berlet.bori@example.hu', 'bérelt');
    const held = (await claim())!;
    expect(await outbox().renew(held, LEASE)).toBe(true);
    expect(await claim()).toBeUndefined();
    const ms = await outbox().msUntilNextDue(core.clock.now());
    expect(ms).toBeGreaterThan((LEASE - 10) * 1000);
    expect(ms).toBeLessThanOrEqual(LEASE * 1000);

    // A lease of no time has run out at once (on the database's clock): the mail is free.
    expect(await outbox().renew(held, 0)).toBe(true);
    const taken = (await claim())!;
    expect([taken.id, taken.attempts]).toEqual([held.id, held.attempts + 1]);
    expect(await outbox().renew(held, LEASE)).toBe(false);
    expect(await outbox().renew(taken, LEASE)).toBe(true);
  });

  test('twelve senders claiming at once get each mail once, and never two mails of one address at a time', async () => {
    for (const who of ['egy', 'ketto', 'harom']) for (const n of [1, 2, 3]) await queue(`${who}@example.hu`, `${who} ${n}`);
    const claims = (await Promise.all(Array.from({ length: 12 }, () => claim()))).filter((c) => c !== undefined);
    expect(claims.map(subject).sort()).toEqual(['egy 1', 'harom 1', 'ketto 1']);
  });
});
