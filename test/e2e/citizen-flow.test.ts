/**
 * No dead ends in a sign-in: every form answers with a page that can be reloaded (post/
 * redirect/get), a dead code leaves only the ways forward, and the resend button says how long
 * to wait — in Hungarian and in English.
 */
import { Browser, type Page } from '../helpers/browser.ts';
import { nextCodeMail, wrongCode } from '../helpers/email.ts';
import { PASSWORD, type TestKapu, beginSignIn, signInWithPassword, startTestKapu } from '../helpers/kapu.ts';
import type { MailSink } from '../helpers/mail-sink.ts';
import { kapuWithMail } from '../helpers/suite.ts';

type Rp = Awaited<ReturnType<TestKapu['client']>>['rp'];

const SAYS = {
  hu: {
    failed: 'Hibás felhasználónév vagy jelszó, vagy a fiók átmenetileg zárolva van.',
    wrongCode: 'A kód nem megfelelő. Még 4 próbálkozása van.',
    wait: (s: number) => `Új kódot ${s} másodperc múlva kérhet.`,
    dead: 'Ezzel a kóddal túl sokszor próbálkozott',
    wrongCurrent: 'A jelszó nem megfelelő.',
    recoveryFailed: 'A felhasználónév, a jelszó vagy a törlőkód nem megfelelő.',
    app: 'Ügyfélkapu+ hitelesítő alkalmazással',
    cancel: 'Mégsem, visszatérek a szolgáltatóhoz',
  },
  en: {
    failed: 'Wrong username or password, or the account is temporarily locked.',
    wrongCode: 'That code is not right. You have 4 tries left.',
    wait: (s: number) => `You can ask for a new code in ${s} seconds.`,
    dead: 'This code was tried too many times',
    wrongCurrent: 'The password is not right.',
    recoveryFailed: 'The username, the password or the removal code is not right.',
    app: 'Ügyfélkapu+ with an authenticator app',
    cancel: 'Cancel and return to the service',
  },
} as const;

const interactionPath = /^\/interaction\/[^/]+$/;
const buttons = (page: Page) => page.doc.querySelectorAll('main button').map((b) => b.text.trim());

describe.each(['hu', 'en'] as const)('a sign-in with no dead ends (%s)', (lang) => {
  let mail: MailSink;
  let kapu: TestKapu;
  let rp: Rp;
  let accounts = 0;
  const says = SAYS[lang];

  kapuWithMail((s) => ({ kapu, mail, rp } = s));

  async function account(factors: string[]) {
    accounts += 1;
    return kapu.account(`${lang}.folyam.${accounts}`, factors);
  }

  async function codePage(factors = ['email']) {
    const { username, email } = await account(factors);
    const since = mail.received.length;
    const browser = new Browser(kapu.url, { 'accept-language': lang });
    const page = await signInWithPassword(browser, (await beginSignIn(rp)).url, 'email', username);
    return { browser, page, sent: await nextCodeMail(mail, since, email) };
  }

  test('a wrong password is answered on the step\'s own address, with the username kept; a reload shows the page again without resending anything', async () => {
    const { username } = await account([]);
    const browser = new Browser(kapu.url, { 'accept-language': lang });
    const refused = await signInWithPassword(browser, (await beginSignIn(rp)).url, 'legacy', username, 'not the password');
    expect(refused.url.pathname).toMatch(interactionPath);
    expect(refused.status).toBe(401);
    expect(refused.text('[role="alert"]')).toBe(says.failed);
    expect(refused.value('#username')).toBe(username);
    expect(refused.html).not.toContain('not the password');

    // A reload is a GET of that address: the same step, the message said once.
    const reloaded = await browser.go(refused.url);
    expect([reloaded.status, reloaded.text('[role="alert"]'), reloaded.hasForm('/password')]).toEqual([200, '', true]);
    await browser.submit(reloaded, '/password', { username, password: PASSWORD });
    expect(browser.exitUrl?.searchParams.get('code')).toBeTruthy();
  });

  test('a wrong code and a resend are answered on the step\'s own address', async () => {
    const { browser, page, sent } = await codePage();
    const wrong = await browser.submit(page, '/verify', { code: wrongCode(sent.code) });
    expect(wrong.url.pathname).toMatch(interactionPath);
    expect(wrong.text('[role="alert"]')).toBe(says.wrongCode);

    kapu.clock.advance(61);
    const resent = await browser.submit(wrong, '/resend');
    expect(resent.url.pathname).toMatch(interactionPath);
    expect(resent.status).toBe(200);
  });

  test('the resend button says how many seconds are left (the page\'s script counts them down)', async () => {
    const { browser, page } = await codePage();
    const secondsLeft = (p: Page) => Number(p.form('/resend').getAttribute('data-countdown'));
    // 60 when the code was sent; a slow machine may take a second or two to show the page.
    const first = secondsLeft(page);
    expect(first).toBeGreaterThan(55);
    expect(page.text('#resend-wait')).toBe(says.wait(first));
    expect(page.doc.querySelector('script[src="/assets/kapu.js"]')).not.toBeNull();

    kapu.clock.advance(25);
    const later = await browser.go(page.url);
    expect(first - secondsLeft(later)).toBeGreaterThanOrEqual(25);
    expect(first - secondsLeft(later)).toBeLessThanOrEqual(28);
    expect(later.text('#resend-wait')).toBe(says.wait(secondsLeft(later)));

    kapu.clock.advance(35);
    const ready = await browser.go(page.url);
    expect(ready.text('#resend-wait')).toBe('');
    expect(ready.form('/resend').getAttribute('data-countdown')).toBeUndefined();
  });

  test('after the fifth wrong code only the ways forward are left: another factor, or back to the service', async () => {
    const { browser, page, sent } = await codePage(['email', 'totp']);
    let current = page;
    for (let i = 0; i < 5; i += 1) current = await browser.submit(current, '/verify', { code: wrongCode(sent.code) });

    expect(current.text('[role="alert"]')).toContain(says.dead);
    expect(current.hasForm('/verify')).toBe(false);
    expect(current.hasForm('/resend')).toBe(false);
    expect(current.doc.querySelector('input[name="code"]')).toBeNull();
    expect(buttons(current)).toEqual([says.app, says.cancel]);
    // The ways forward are buttons, not small links.
    expect(current.doc.querySelectorAll('main button.link')).toHaveLength(0);

    // The same after a reload.
    expect(buttons(await browser.go(current.url))).toEqual([says.app, says.cancel]);
  });
});

describe.each(['hu', 'en'] as const)('the account portal answers its forms the same way (%s)', (lang) => {
  let kapu: TestKapu;
  const says = SAYS[lang];

  beforeAll(async () => {
    kapu = await startTestKapu();
  });
  afterAll(() => kapu?.close());

  test('a refused password change is said on /account/password itself, once', async () => {
    const { username } = await kapu.account(`${lang}.portal.jelszo`);
    const browser = new Browser(kapu.url, { 'accept-language': lang });
    const chooser = await browser.submit(await browser.go('/account'), '/account/sign-in');
    const passwordPage = await browser.submit(chooser, '/method', {}, { name: 'method', value: 'legacy' });
    expect((await browser.submit(passwordPage, '/password', { username, password: PASSWORD })).url.pathname).toBe('/account');

    const form = await browser.go('/account/password');
    // The POST is answered with a redirect to the page, never with the page itself.
    const answer = await browser.post('/account/password', new URLSearchParams({ csrf: form.value('input[name="csrf"]') ?? '', current: 'not the password' }).toString());
    expect([answer.status, answer.headers.get('location')]).toEqual([303, '/account/password']);
    const refused = await browser.go('/account/password');
    expect([refused.url.pathname, refused.status, refused.text('[role="alert"]')]).toEqual(['/account/password', 401, says.wrongCurrent]);
    expect(refused.html).not.toContain('not the password');
    const reloaded = await browser.go(refused.url);
    expect([reloaded.status, reloaded.text('[role="alert"]')]).toEqual([200, '']);
  });

  test('a refused törlőkód keeps the username on the GET of /account/lost-phone', async () => {
    const browser = new Browser(kapu.url, { 'accept-language': lang });
    const form = await browser.go('/account/lost-phone');
    const fields = { csrf: form.value('input[name="csrf"]') ?? '', username: 'senki.sem', password: 'x'.repeat(10), recovery_code: 'ABCD-EFGH-JKMN-PQRS' };
    expect((await browser.post('/account/lost-phone', new URLSearchParams(fields).toString())).status).toBe(303);
    const refused = await browser.go('/account/lost-phone');
    expect([refused.url.pathname, refused.status, refused.text('[role="alert"]')]).toEqual(['/account/lost-phone', 401, says.recoveryFailed]);
    expect(refused.value('#username')).toBe('senki.sem');
  });
});
