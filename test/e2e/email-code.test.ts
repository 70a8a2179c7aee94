import { Browser, type Page } from '../helpers/browser.ts';
import { nextCodeMail, wrongCode } from '../helpers/email.ts';
import { PASSWORD, type TestKapu, beginSignIn, signInWithPassword, startTestKapu } from '../helpers/kapu.ts';
import { MailSink } from '../helpers/mail-sink.ts';
import { fieldLabelled, forgePost, press } from '../helpers/totp.ts';
import { kapuWithMail } from '../helpers/suite.ts';

const SUBSTANTIAL = 'http://eidas.europa.eu/LoA/substantial';
const RP_ORIGIN = 'https://rp.example.hu';
const RESEND = 'Új kód küldése';
const TAG_LABEL = 'Munkamenet-azonosító';
const CODE_LABEL = 'E-mailben kapott kód';
/** A dead code, to an account that has no other method: the way on is to start again. */
const EXHAUSTED = 'Ezzel a kóddal túl sokszor próbálkozott, ezért már nem használható, és ebben a bejelentkezésben új kódot sem kérhet. Kezdje újra a bejelentkezést.';
/** …and to one that has another: that method too. */
const EXHAUSTED_OTHERS = 'Ezzel a kóddal túl sokszor próbálkozott, ezért már nem használható, és ebben a bejelentkezésben új kódot sem kérhet. Válasszon másik azonosítási módot, vagy térjen vissza a szolgáltatáshoz, és kezdje újra a bejelentkezést.';
const CAP = 'Az elmúlt órában túl sok kódot kért. Próbálja újra később.';
const triesLeft = (n: number) => `A kód nem megfelelő. Még ${n} próbálkozása van.`;

type Rp = Awaited<ReturnType<TestKapu['client']>>['rp'];

/** What the sign-in pages say, and how a citizen moves through them, for one kapu and mailbox. */
function citizen(get: () => { kapu: TestKapu; mail: MailSink; rp: Rp }) {
  return {
    /** A fresh browser at the RP, through the chooser ("emailed code") and the password; the mail it got. */
    async toCodePage(username: string, params: Record<string, string> = {}) {
      const { kapu, mail, rp } = get();
      const since = mail.received.length;
      const browser = new Browser(kapu.url);
      const signIn = await beginSignIn(rp, params);
      const page = await signInWithPassword(browser, signIn.url, 'email', username);
      const sent = await nextCodeMail(mail, since, `${username}@example.hu`);
      return { browser, signIn, page, sent };
    },
    enterCode(browser: Browser, page: Page, code: string): Promise<Page> {
      return browser.submit(page, '/verify', { code });
    },
  };
}

const alertOn = (page: Page) => page.text('[role="alert"]');
const statusOn = (page: Page) => page.text('[role="status"]');
const tagOn = (page: Page) => fieldLabelled(page, TAG_LABEL)?.getAttribute('value');

describe('Ügyfélkapu+ with an emailed code', () => {
  let mail: MailSink;
  let kapu: TestKapu;
  let rp: Rp;
  const { toCodePage, enterCode } = citizen(() => ({ kapu, mail, rp }));

  kapuWithMail((s) => ({ kapu, mail, rp } = s));

  test('after the password the page shows the username and a read-only session tag; the mail shows the same tag and a code that signs in at substantial with amr pwd email mfa', async () => {
    const { email } = await kapu.account('email.anna', ['email']);
    const { browser, signIn, page, sent } = await toCodePage('email.anna');

    expect(page.status).toBe(200);
    expect(page.text('h1')).toBe('Bejelentkezés – e\u2011mailes kód');
    expect(statusOn(page)).toContain('Elküldtük a hitelesítő kódot a fiókjához tartozó e-mail-címre.');
    const username = fieldLabelled(page, 'Felhasználónév');
    expect(username?.getAttribute('value')).toBe('email.anna');
    expect(username?.hasAttribute('readonly')).toBe(true);
    const tag = fieldLabelled(page, TAG_LABEL);
    expect(tag?.getAttribute('value')).toMatch(/^\d{3}$/);
    expect(tag?.hasAttribute('readonly')).toBe(true);
    expect(fieldLabelled(page, CODE_LABEL)?.getAttribute('name')).toBe('code');

    expect(sent.mail.subject).toBe('Ügyfélkapu+ hitelesítő kód');
    expect(sent.mail.to).toBe(email);
    expect(sent.tag).toBe(tag?.getAttribute('value'));
    expect(sent.code).toMatch(/^\d{6}$/);
    for (const body of [sent.mail.text, sent.htmlText]) {
      expect(body).toMatch(new RegExp(`Munkamenet-azonosító:\\s*${sent.tag}`));
      expect(body).toMatch(new RegExp(`Hitelesítő kód:\\s*${sent.code}`));
      expect(body).toContain('A kód 10 percig érvényes');
      expect(body).toContain('Ezt a kódot soha ne adja meg senkinek');
      expect(body).not.toContain(PASSWORD);
    }
    expect(sent.mail.html).not.toContain(PASSWORD);
    expect(page.html).not.toContain(sent.code);

    await enterCode(browser, page, sent.code);
    expect(browser.exitUrl?.origin).toBe(RP_ORIGIN);
    const claims = (await signIn.finish(browser.exitUrl!)).claims()!;
    expect(claims.acr).toBe(SUBSTANTIAL);
    expect(claims.amr).toEqual(['pwd', 'email', 'mfa']);
  });

  test('an RP asking for ui_locales=en gets an English code page and the citizen an English mail', async () => {
    const { email } = await kapu.account('email.bela', ['email']);
    const { browser, signIn, page, sent } = await toCodePage('email.bela', { ui_locales: 'en' });

    expect(page.doc.querySelector('html')?.getAttribute('lang')).toBe('en');
    expect(page.text('h1')).toBe('Sign in – emailed code');
    expect(statusOn(page)).toContain('We sent a sign-in code to the email address of your account.');
    expect(fieldLabelled(page, 'Username')?.getAttribute('value')).toBe('email.bela');
    expect(fieldLabelled(page, 'Session ID')?.getAttribute('value')).toBe(sent.tag);
    expect(fieldLabelled(page, 'Code from the email')?.getAttribute('name')).toBe('code');
    expect(page.form('/resend').querySelector('button')?.text.trim()).toBe('Send a new code');

    expect(sent.mail.subject).toBe('Ügyfélkapu+ sign-in code');
    expect(sent.mail.to).toBe(email);
    for (const body of [sent.mail.text, sent.htmlText]) {
      expect(body).toMatch(new RegExp(`Session ID:\\s*${sent.tag}`));
      expect(body).toMatch(new RegExp(`Sign-in code:\\s*${sent.code}`));
      expect(body).toContain('The code is valid for 10 minutes');
      expect(body).toContain('Never give this code to anyone');
      expect(body).not.toContain(PASSWORD);
    }

    await enterCode(browser, page, sent.code);
    expect(browser.exitUrl?.origin).toBe(RP_ORIGIN);
    expect((await signIn.finish(browser.exitUrl!)).claims()!.amr).toEqual(['pwd', 'email', 'mfa']);
  });

  test('a citizen who switches the page to English gets English pages and an English mail', async () => {
    await kapu.account('email.bori', ['email']);
    const browser = new Browser(kapu.url);
    const signIn = await beginSignIn(rp);
    const chooser = await browser.go(signIn.url);
    expect(chooser.text('h1')).toBe('Bejelentkezés');
    const english = await browser.go(chooser.doc.querySelector('a[hreflang="en"]')!.getAttribute('href')!);
    expect(english.text('h1')).toBe('Sign in');

    const since = mail.received.length;
    const passwordPage = await browser.submit(english, '/method', {}, { name: 'method', value: 'email' });
    expect(fieldLabelled(passwordPage, 'Password')).toBeDefined();
    const page = await browser.submit(passwordPage, '/password', { username: 'email.bori', password: PASSWORD });
    expect(page.text('h1')).toBe('Sign in – emailed code');
    const sent = await nextCodeMail(mail, since, 'email.bori@example.hu');
    expect(sent.mail.subject).toBe('Ügyfélkapu+ sign-in code');
    expect(fieldLabelled(page, 'Session ID')?.getAttribute('value')).toBe(sent.tag);
    expect(sent.mail.text).toContain('The code is valid for 10 minutes');

    await enterCode(browser, page, sent.code);
    expect(browser.exitUrl?.origin).toBe(RP_ORIGIN);
  });

  test('a code from an earlier email is rejected after "Új kód küldése", naming the newest mail\'s tag; the new code works', async () => {
    const { email } = await kapu.account('email.cecil', ['email']);
    const { browser, signIn, page, sent: first } = await toCodePage('email.cecil');

    kapu.clock.advance(61);
    const since = mail.received.length;
    const resent = await press(browser, page, '/resend', RESEND);
    const second = await nextCodeMail(mail, since, email);
    expect(resent.status).toBe(200);
    expect(statusOn(resent)).toBe('Új kódot küldtünk, új munkamenet-azonosítóval. A korábbi kód már nem érvényes.');
    expect(second.tag).not.toBe(first.tag);
    expect(tagOn(resent)).toBe(second.tag);
    expect(resent.html).not.toContain(second.code);

    const refused = await enterCode(browser, resent, first.code);
    expect(browser.exitUrl).toBeUndefined();
    expect(refused.status).toBe(401);
    expect(alertOn(refused)).toBe(
      `Ez a kód egy korábbi levélből való. A legutóbbi levélben kapott kódot írja be (munkamenet-azonosító: ${second.tag}).`,
    );

    await enterCode(browser, refused, second.code);
    expect(browser.exitUrl?.origin).toBe(RP_ORIGIN);
    expect((await signIn.finish(browser.exitUrl!)).claims()!.amr).toEqual(['pwd', 'email', 'mfa']);
  });

  test('a code typed after its 10 minutes is refused as expired, and nobody is signed in', async () => {
    await kapu.account('email.dora', ['email']);
    const { browser, page, sent } = await toCodePage('email.dora');

    kapu.clock.advance(601);
    const refused = await enterCode(browser, page, sent.code);
    expect(refused.status).toBe(401);
    expect(alertOn(refused)).toBe('A kód lejárt. Kérjen új kódot.');
    expect(browser.exitUrl).toBeUndefined();
  });

  test('five wrong tries kill the code: the right code on the sixth try is refused', async () => {
    await kapu.account('email.elek', ['email']);
    const { browser, page, sent } = await toCodePage('email.elek');

    let current = page;
    const said: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      current = await enterCode(browser, current, wrongCode(sent.code));
      expect(current.status).toBe(401);
      expect(current.html).not.toContain(sent.code);
      said.push(alertOn(current));
    }
    expect(said).toEqual([triesLeft(4), triesLeft(3), triesLeft(2), triesLeft(1), EXHAUSTED]);
    // A dead code leaves no field to type into and no button that would do nothing.
    expect([current.hasForm('/verify'), current.hasForm('/resend')]).toEqual([false, false]);

    // Typed in anyway (a form kept from before), the right code is refused.
    expect((await forgePost(browser, current, 'verify', { code: sent.code })).status).toBe(303);
    const refused = await browser.go(current.url);
    expect(refused.status).toBe(401);
    expect(alertOn(refused)).toBe(EXHAUSTED);
    expect(browser.exitUrl).toBeUndefined();
  });

  test('a dead code tells an account that has another method to choose it, and offers it', async () => {
    await kapu.account('email.es.app', ['email', 'totp']);
    const { browser, page, sent } = await toCodePage('email.es.app');
    let current = page;
    for (let i = 0; i < 5; i += 1) current = await enterCode(browser, current, wrongCode(sent.code));
    expect(alertOn(current)).toBe(EXHAUSTED_OTHERS);
    expect(current.form('/factor').querySelectorAll('button').map((b) => b.getAttribute('value'))).toEqual(['totp']);
  });

  test('a new code keeps the failure count: 3 wrong tries, a new code, 2 wrong tries, and the right new code is refused', async () => {
    const { email } = await kapu.account('email.feri', ['email']);
    const { browser, page, sent: first } = await toCodePage('email.feri');

    let current = page;
    for (let i = 0; i < 3; i += 1) current = await enterCode(browser, current, wrongCode(first.code));
    expect(alertOn(current)).toBe(triesLeft(2));

    kapu.clock.advance(61);
    const since = mail.received.length;
    current = await press(browser, current, '/resend', RESEND);
    const second = await nextCodeMail(mail, since, email);
    expect(tagOn(current)).toBe(second.tag);

    current = await enterCode(browser, current, wrongCode(second.code));
    expect(alertOn(current)).toBe(triesLeft(1));
    current = await enterCode(browser, current, wrongCode(second.code));
    expect(alertOn(current)).toBe(EXHAUSTED);

    expect((await forgePost(browser, current, 'verify', { code: second.code })).status).toBe(303);
    const refused = await browser.go(current.url);
    expect(refused.status).toBe(401);
    expect(alertOn(refused)).toBe(EXHAUSTED);
    expect(browser.exitUrl).toBeUndefined();

    // A third code would inherit five failures: it is refused rather than mailed dead (the
    // page offers no resend; a forged one is refused).
    kapu.clock.advance(61);
    expect(refused.hasForm('/resend')).toBe(false);
    expect((await forgePost(browser, refused, 'resend', {})).status).toBe(303);
    const noNewCode = await browser.go(refused.url);
    expect(noNewCode.status).toBe(429);
    expect(alertOn(noNewCode)).toBe(EXHAUSTED);
    // No new code was issued: the live code is still the second mail's.
    const uid = /^\/interaction\/([^/]+)/.exec(noNewCode.url.pathname)![1]!;
    expect((await kapu.deps.repos.codes.live({ purpose: 'signin', flowId: uid, accountId: (await kapu.deps.repos.accounts.findByUsername('email.feri'))!.id }))?.tag).toBe(second.tag);
  });

  test('asking for a new code right away is refused with 429 and the seconds left, and sends nothing; 60 s later it works', async () => {
    await kapu.account('email.gizi', ['email']);
    const { browser, signIn, page, sent: first } = await toCodePage('email.gizi');

    const since = mail.received.length;
    const tooSoon = await press(browser, page, '/resend', RESEND);
    expect(tooSoon.status).toBe(429);
    const seconds = Number(/^Új kódot (\d+) másodperc múlva kérhet\.$/.exec(alertOn(tooSoon))?.[1]);
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThanOrEqual(60);
    expect(tagOn(tooSoon)).toBe(first.tag);

    kapu.clock.advance(60);
    const resent = await press(browser, tooSoon, '/resend', RESEND);
    expect(resent.status).toBe(200);
    // The outbox sends in the order it queued: had the refused request queued a mail, it would come first.
    const second = await nextCodeMail(mail, since);
    expect(second.mail.to).toBe('email.gizi@example.hu');
    expect(second.tag).not.toBe(first.tag);
    expect(tagOn(resent)).toBe(second.tag);

    await enterCode(browser, resent, second.code);
    expect(browser.exitUrl?.origin).toBe(RP_ORIGIN);
    expect((await signIn.finish(browser.exitUrl!)).claims()!.acr).toBe(SUBSTANTIAL);
  });

  test('the right code submitted twice at once (a double click) signs in exactly once, and either answer leads on', async () => {
    await kapu.account('email.hugo', ['email']);
    const { browser, signIn, page, sent } = await toCodePage('email.hugo');

    const answers = await Promise.all([forgePost(browser, page, 'verify', { code: sent.code }), forgePost(browser, page, 'verify', { code: sent.code })]);
    // A browser shows whichever answer came last: both send it on to the same resume URL…
    const locations = answers.map((r) => (r.status === 303 ? new URL(r.headers.get('location') ?? '/', kapu.url).pathname : `status ${r.status}`));
    expect(locations[0]).toMatch(/^\/auth\//);
    expect(locations[1]).toBe(locations[0]);

    // …and however many times it is followed, the RP gets one authorization code.
    const reachedRp: URL[] = [];
    for (const answer of answers) {
      browser.exitUrl = undefined;
      await browser.go(new URL(answer.headers.get('location')!, kapu.url));
      if (browser.exitUrl) reachedRp.push(browser.exitUrl);
    }
    expect(reachedRp).toHaveLength(1);
    const claims = (await signIn.finish(reachedRp[0]!)).claims()!;
    expect(claims.amr).toEqual(['pwd', 'email', 'mfa']);
  });

  test('an unknown username looks exactly like a wrong password, and neither sends a mail', async () => {
    await kapu.account('email.ivan', ['email']);
    const since = mail.received.length;
    const wrongPassword = await signInWithPassword(new Browser(kapu.url), (await beginSignIn(rp)).url, 'email', 'email.ivan', 'not the password');
    const unknownUser = await signInWithPassword(new Browser(kapu.url), (await beginSignIn(rp)).url, 'email', 'nincs.ilyen', 'not the password');

    expect(wrongPassword.status).toBe(401);
    expect(unknownUser.status).toBe(wrongPassword.status);
    expect(alertOn(wrongPassword)).toBe('Hibás felhasználónév vagy jelszó, vagy a fiók átmenetileg zárolva van.');
    expect(unknownUser.visibleText.replaceAll('nincs.ilyen', '<username>')).toBe(wrongPassword.visibleText.replaceAll('email.ivan', '<username>'));
    expect(unknownUser.value('#username')).toBe('nincs.ilyen');
    expect(wrongPassword.value('#username')).toBe('email.ivan');

    // The outbox sends in the order it queued: the first mail after both is the one a real sign-in asked for.
    const browser = new Browser(kapu.url);
    const page = await signInWithPassword(browser, (await beginSignIn(rp)).url, 'email', 'email.ivan');
    const first = await nextCodeMail(mail, since);
    expect(first.mail.to).toBe('email.ivan@example.hu');
    expect(first.tag).toBe(tagOn(page));
  });

  test('a code in the wrong format ("abc", empty, 7 digits, 10 kB) gets a clear 4xx page and costs no try', async () => {
    await kapu.account('email.jozsi', ['email']);
    const { browser, signIn, page, sent } = await toCodePage('email.jozsi');

    let current = page;
    for (const input of ['abc', '', '1234567', '1'.repeat(10_240)]) {
      current = await enterCode(browser, current, input);


      expect(alertOn(current)).toBe('A kód hat számjegyből áll.');
      expect(fieldLabelled(current, CODE_LABEL)?.getAttribute('name')).toBe('code');
      expect(tagOn(current)).toBe(sent.tag);
    }
    // None of them counted against the code: the first well-formed wrong try still leaves 4.
    current = await enterCode(browser, current, wrongCode(sent.code));
    expect(alertOn(current)).toBe(triesLeft(4));

    await enterCode(browser, current, sent.code);
    expect(browser.exitUrl?.origin).toBe(RP_ORIGIN);
    expect((await signIn.finish(browser.exitUrl!)).claims()!.acr).toBe(SUBSTANTIAL);
  });
});

describe('the hourly cap on emailed codes (CODE_MAX_PER_HOUR=3)', () => {
  let mail: MailSink;
  let kapu: TestKapu;
  let rp: Rp;
  const { toCodePage, enterCode } = citizen(() => ({ kapu, mail, rp }));

  beforeAll(async () => {
    mail = await new MailSink().start();
    kapu = await startTestKapu({ env: { SMTP_URL: mail.url, CODE_MAX_PER_HOUR: '3' } });
    ({ rp } = await kapu.client());
  });
  afterAll(async () => {
    await kapu?.close();
    await mail?.stop();
  });

  test('the fourth code in an hour is refused with 429, and so is a new sign-in for the same account', async () => {
    const { email } = await kapu.account('cap.kati', ['email']);
    await kapu.account('cap.lili', ['email']);
    const { browser, page, sent } = await toCodePage('cap.kati');

    let current = page;
    let last = sent;
    for (let n = 2; n <= 3; n += 1) {
      kapu.clock.advance(60);
      const since = mail.received.length;
      current = await press(browser, current, '/resend', RESEND);
      last = await nextCodeMail(mail, since, email);
      expect(tagOn(current)).toBe(last.tag);
    }

    kapu.clock.advance(60);
    const since = mail.received.length;
    const fourth = await press(browser, current, '/resend', RESEND);
    expect(fourth.status).toBe(429);
    expect(alertOn(fourth)).toBe(CAP);
    expect(tagOn(fourth)).toBe(last.tag);

    const elsewhere = await signInWithPassword(new Browser(kapu.url), (await beginSignIn(rp)).url, 'email', 'cap.kati');
    expect(elsewhere.status).toBe(429);
    expect(alertOn(elsewhere)).toBe(CAP);
    expect(statusOn(elsewhere)).toBe('');

    // The outbox sends in the order it queued: the first mail after both refusals is another account's.
    await toCodePage('cap.lili');
    expect(mail.received.slice(since).map((m) => m.to)).toEqual(['cap.lili@example.hu']);

    // The third code, refused nothing, still signs in.
    await enterCode(browser, fourth, last.code);
    expect(browser.exitUrl?.origin).toBe(RP_ORIGIN);
  });
});
