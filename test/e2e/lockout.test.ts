/**
 * Issue 9, item 4: a lockout no stranger can turn into a denial of service. The cap on guessing
 * stays (5 free failures, then doubling locks; 100 in a row lock for 24 hours), but a browser
 * that signed in to the account before is not locked out by failures from elsewhere; the lock
 * ends by itself; the citizen is mailed when failures pile up; IPv6 is counted per /64.
 */
import { Browser } from '../helpers/browser.ts';
import { type TestKapu, PASSWORD, beginSignIn, signInWithPassword } from '../helpers/kapu.ts';
import type { MailSink } from '../helpers/mail-sink.ts';
import { HARD_LOCK_SECONDS, IP_POLICY, MAX_CONSECUTIVE_FAILURES, USER_POLICY, ipKey } from '../../src/security/throttle.ts';
import { kapuWithMail } from '../helpers/suite.ts';

describe('lockout', () => {
  let kapu: TestKapu;
  let mail: MailSink;
  let rp: Awaited<ReturnType<TestKapu['client']>>['rp'];
  kapuWithMail((s) => ({ kapu, mail, rp } = s));

  /** A password sign-in in this browser (asked for again, as after closing it): did it reach the RP? */
  async function signIn(browser: Browser, username: string, password = PASSWORD): Promise<boolean> {
    browser.exitUrl = undefined;
    await signInWithPassword(browser, (await beginSignIn(rp, { prompt: 'login' })).url, 'legacy', username, password);
    const exit = browser.exitUrl as URL | undefined;
    return exit?.searchParams.has('code') === true;
  }

  test("a stranger's failures lock the username for new browsers, never for one that signed in before", async () => {
    await kapu.account('zarolt.zoltan');
    const known = new Browser(kapu.url);
    expect(await signIn(known, 'zarolt.zoltan')).toBe(true);

    const stranger = new Browser(kapu.url);
    for (let i = 0; i < USER_POLICY.freeFailures + 2; i += 1) expect(await signIn(stranger, 'zarolt.zoltan', `guess ${i}`)).toBe(false);

    // The lock is real: the right password from a browser kapu has not seen is refused...
    expect(await signIn(new Browser(kapu.url), 'zarolt.zoltan')).toBe(false);
    // ...but the citizen's own browser signs in.
    expect(await signIn(known, 'zarolt.zoltan')).toBe(true);
  });

  test("the known browser's own guesses are capped all the same", async () => {
    await kapu.account('sajat.sara');
    const known = new Browser(kapu.url);
    expect(await signIn(known, 'sajat.sara')).toBe(true);
    for (let i = 0; i < USER_POLICY.freeFailures; i += 1) expect(await signIn(known, 'sajat.sara', `guess ${i}`)).toBe(false);
    expect(await signIn(known, 'sajat.sara')).toBe(false);
  });

  test('the citizen gets one mail when the failures first lock the account: when and how many, no code', async () => {
    const account = await kapu.account('levelezo.lili');
    const since = mail.received.length;
    const stranger = new Browser(kapu.url);
    for (let i = 0; i < USER_POLICY.freeFailures + 2; i += 1) await signIn(stranger, 'levelezo.lili', `guess ${i}`);
    const told = await mail.next((m) => m.to.includes(account.email), since);
    expect(told.subject).toBe('Ügyfélkapu+ – sikertelen bejelentkezési kísérletek');
    expect(told.text).toContain(`${USER_POLICY.freeFailures} sikertelen bejelentkezési kísérlet`);
    expect(told.text).not.toMatch(/\b\d{6}\b/);
    // Failures while locked, and more locks in the same run, queue no more mail.
    const queued = await kapu.deps.db.selectFrom('mail_outbox').select('id').where('recipient', '=', account.email).execute();
    expect(queued).toHaveLength(1);
  });

  test('100 failures in a row lock for 24 hours, then the lock ends by itself', async () => {
    await kapu.account('kemeny.kata');
    const repo = kapu.deps.repos.throttle;
    for (let i = 0; i < MAX_CONSECUTIVE_FAILURES; i += 1) {
      kapu.clock.advance(16 * 60); // past every doubling lock (15 min at most)
      expect([i, (await kapu.deps.throttle.password(repo, 'kemeny.kata', `198.51.100.${i % 200}`)) !== null]).toEqual([i, true]);
    }
    kapu.clock.advance(16 * 60);
    expect(await kapu.deps.throttle.password(repo, 'kemeny.kata', '198.51.100.201')).toBeNull();
    kapu.clock.advance(HARD_LOCK_SECONDS);
    expect(await kapu.deps.throttle.password(repo, 'kemeny.kata', '198.51.100.202')).not.toBeNull();
  });

  test('IPv6 addresses are counted per /64: 120 addresses of one /64 share one budget', async () => {
    const repo = kapu.deps.repos.throttle;
    const admitted: boolean[] = [];
    for (let i = 1; i <= 120; i += 1) admitted.push((await kapu.deps.throttle.password(repo, `v6-${i}`, `2001:db8:7:9:${i.toString(16)}::1`)) !== null);
    expect(admitted.filter(Boolean)).toHaveLength(IP_POLICY.freeFailures);
    expect(await kapu.deps.throttle.password(repo, 'v6-other', '2001:db8:7:a::1')).not.toBeNull();
  });

  test.each([
    ['203.0.113.9', 'ip:203.0.113.9'],
    ['::ffff:203.0.113.9', 'ip:203.0.113.9'],
    ['2001:db8:7:9:1:2:3:4', 'ip:2001:db8:7:9::/64'],
    ['2001:0db8:0007:0009::1', 'ip:2001:db8:7:9::/64'],
    ['2001:db8::1', 'ip:2001:db8:0:0::/64'],
    ['::1', 'ip:0:0:0:0::/64'],
  ])('ipKey(%s) is %s', (ip, key) => {
    expect(ipKey(ip)).toBe(key);
  });
});
