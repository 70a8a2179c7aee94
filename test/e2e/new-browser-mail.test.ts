/**
 * The new-browser mail, wired end to end: kapu's device cookie (set when a sign-in finishes)
 * is what makes a browser known to an account; only a browser without it for that account
 * gets the account a mail. (What the mail says and what it costs: test/integration.)
 */
import { Browser } from '../helpers/browser.ts';
import { type TestKapu, beginSignIn, signInWithPassword } from '../helpers/kapu.ts';
import type { MailSink } from '../helpers/mail-sink.ts';
import { kapuWithMail } from '../helpers/suite.ts';

const SUBJECT = 'Ügyfélkapu+ – bejelentkezés új böngészőből';

describe('a mail when an account signs in from a new browser', () => {
  let mail: MailSink;
  let kapu: TestKapu;
  let rp: Awaited<ReturnType<TestKapu['client']>>['rp'];

  kapuWithMail((s) => ({ kapu, mail, rp } = s), { env: { NEW_BROWSER_MAIL: 'true', LEGACY_LOGIN_UNTIL: '2099-01-01' }, client: { clientName: 'Minta Ügyintézés' } });

  /** A password-only sign-in at the RP, to its end (`prompt=login`: past the browser's session at kapu). */
  async function signIn(browser: Browser, username: string): Promise<void> {
    await signInWithPassword(browser, (await beginSignIn(rp, { prompt: 'login' })).url, 'legacy', username);
    expect(browser.exitUrl?.searchParams.get('code')).toBeTruthy();
  }

  /** Every mail queued for the address so far (the outbox keeps a row per mail, sent or not). */
  const queued = async (email: string) => (await kapu.deps.db.selectFrom('mail_outbox').select('id').where('recipient', '=', email).execute()).length;

  test('the first sign-in from a browser mails the citizen; the same browser again does not; another browser does', async () => {
    const account = await kapu.account('harom.bongeszo');
    const since = mail.received.length;
    const first = new Browser(kapu.url);
    await signIn(first, account.username);
    const told = await mail.next((m) => m.to.includes(account.email), since);
    expect(told.subject).toBe(SUBJECT);
    expect(told.text).toContain('Szolgáltatás: Minta Ügyintézés');
    expect(told.text).toContain('Hálózat: helyi hálózat');

    // The finished sign-in's response committed whatever it queued: nothing for a known browser.
    await signIn(first, account.username);
    expect(await queued(account.email)).toBe(1);

    const second = new Browser(kapu.url);
    await signIn(second, account.username);
    expect(await queued(account.email)).toBe(2);
    // Known now, as the first one is.
    await signIn(second, account.username);
    await signIn(first, account.username);
    expect(await queued(account.email)).toBe(2);
  });

  test("a browser known to another account is new to this one (a family's shared computer)", async () => {
    const anna = await kapu.account('kozos.anna');
    const bela = await kapu.account('kozos.bela');
    const shared = new Browser(kapu.url);
    await signIn(shared, anna.username);
    await signIn(shared, bela.username);
    expect([await queued(anna.email), await queued(bela.email)]).toEqual([1, 1]);
  });
});
