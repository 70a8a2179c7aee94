/**
 * The account portal (/account) as a citizen uses it, over HTTP with real mail (SPEC §2, §4):
 * signing in with what the account has — the password alone for a password-only account, also
 * after the cut-off — getting Ügyfélkapu+ by the seed's steps, the app and its törlőkód, a new
 * password and a forgotten one, a new email address, and the inline upgrade at an RP.
 */
import * as oidc from 'openid-client';
import { Browser, type Page } from '../helpers/browser.ts';
import { type TestKapu, PASSWORD, beginSignIn, signInWithPassword, startTestKapu } from '../helpers/kapu.ts';
import { MailSink, type ReceivedMail } from '../helpers/mail-sink.ts';
import { appCode, toMiddleOfStep, wrongAppCode } from '../helpers/totp.ts';
import { kapuWithMail } from '../helpers/suite.ts';
import { PORTAL_SESSION_COOKIE } from '../../src/http/cookies.ts';

const SUBSTANTIAL = 'http://eidas.europa.eu/LoA/substantial';
const LOW = 'http://eidas.europa.eu/LoA/low';
const NEW_PASSWORD = 'egy hosszú új jelszó 2026';
const CHROME_ON_LINUX = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const lines = (m: ReceivedMail) => m.text.split('\n');

/** The 6-digit code of any of kapu's code mails, and its 3-digit tag. */
function codeIn(mail: ReceivedMail): { code: string; tag: string } {
  const code = /(?:kód|code): (\d{6})/i.exec(mail.text)?.[1];
  const tag = /(?:Munkamenet-azonosító|Session ID): (\d{3})/.exec(mail.text)?.[1];
  if (!code || !tag) throw new Error(`no code in "${mail.subject}"`);
  return { code, tag };
}

function otherCode(code: string): string {
  return code.replace(/\d/g, (d) => String((Number(d) + 1) % 10));
}

describe('the account portal', () => {
  let kapu: TestKapu;
  let mail: MailSink;
  let rp: oidc.Configuration;
  let people = 0;

  // Password-only sign-in at RPs has ended: the portal is where such an account gets Ügyfélkapu+.
  kapuWithMail((s) => ({ kapu, mail, rp } = s), { env: { LEGACY_LOGIN_UNTIL: '2025-01-16' }, client: { clientName: 'Minta Ügyintézés' } });

  async function citizen(factors: string[] = []) {
    people += 1;
    return kapu.account(`fiok.${people}`, factors);
  }

  type Answer = (browser: Browser, page: Page) => Promise<Page>;

  /** Signs in at the portal with `method`; a factor's page is answered by `answer`. */
  async function portalSignIn(username: string, method = 'legacy', answer?: Answer, browser = new Browser(kapu.url, { 'user-agent': CHROME_ON_LINUX })): Promise<{ browser: Browser; home: Page }> {
    const landing = await browser.go('/account');
    const chooser = await browser.submit(landing, '/account/sign-in');
    const passwordPage = await browser.submit(chooser, '/method', {}, { name: 'method', value: method });
    let page = await browser.submit(passwordPage, '/password', { username, password: PASSWORD });
    if (answer) page = await answer(browser, page);
    expect(page.url.pathname).toBe('/account');
    return { browser, home: page };
  }

  /** Answers the emailed-code page with the code the newest mail to `email` carries. */
  function emailedCode(email: string, since = mail.received.length): Answer {
    return async (browser, page) => browser.submit(page, '/verify', { code: codeIn(await mail.next((m) => m.to.includes(email), since)).code });
  }

  /** Answers the app's page with the code the app shows (a fresh time step each time). */
  function appAnswer(secret: string): Answer {
    return async (browser, page) => {
      kapu.clock.advance(30);
      toMiddleOfStep(kapu.clock);
      return browser.submit(page, '/verify', { code: await appCode(secret, kapu.clock) });
    };
  }

  const links = (page: Page) => page.doc.querySelectorAll('a').map((a) => a.text.trim());

  test('a password-only account signs in with the password alone, after the cut-off too; the first item is "Ügyfélkapu+ igénylés e-mailes kóddal"', async () => {
    const account = await citizen();
    const { home } = await portalSignIn(account.username);
    expect(home.text('h1')).toBe('Fiókom');
    expect(home.doc.querySelector('main a.button')?.text.trim()).toBe('Ügyfélkapu+ igénylés e-mailes kóddal');
    expect(home.visibleText).toContain('Még nincs beállítva Ügyfélkapu+ azonosítás');
  });

  test('the seed’s seven steps: password again, "Megerősítő kód küldése", the mailed code, "Megerősítés", and the success mail; then the RP signs in with it at substantial', async () => {
    const account = await citizen();
    const { browser, home } = await portalSignIn(account.username);
    const start = await browser.go(home.doc.querySelector('main a.button')!.getAttribute('href')!);
    expect(start.doc.querySelector('button[type=submit]')?.text.trim()).toBe('Megerősítő kód küldése');
    const since = mail.received.length;
    const dialog = await browser.submit(start, '/account/setup/email', { password: PASSWORD });
    expect(dialog.doc.querySelector('dialog[open]')).not.toBeNull();
    const codeMail = await mail.next((m) => m.to.includes(account.email), since);
    expect(codeMail.subject).toBe('Ügyfélkapu+ igénylés – Megerősítő kód');
    expect(codeMail.text).toContain('10 percig');
    // Like a sign-in's code mail: asked at the portal, from this browser.
    expect(lines(codeMail)).toEqual(expect.arrayContaining(['Szolgáltatás: Ügyfélkapu+ fiókom', 'Böngésző: Chrome 131, Linux']));
    expect(dialog.value('#tag')).toBe(codeIn(codeMail).tag);
    expect(dialog.visibleText).toContain(`Megerősítő kódot küldtünk ide: ${account.email}. A kód 10 percig érvényes.`);
    const done = await browser.submit(dialog, dialog.url.pathname, { code: codeIn(codeMail).code });
    expect(done.url.pathname).toBe('/account');
    expect(done.visibleText).toContain('Beállította az Ügyfélkapu+ e-mailes kóddal történő azonosítást');
    const confirmation = await mail.next((m) => m.to.includes(account.email) && m.subject === 'Sikeres Ügyfélkapu+ igénylés', since);
    expect(confirmation.text).not.toMatch(/\b\d{6}\b/);

    const signIn = await beginSignIn(rp);
    const atRp = new Browser(kapu.url);
    const before = mail.received.length;
    const page = await signInWithPassword(atRp, signIn.url, 'email', account.username);
    await atRp.submit(page, '/verify', { code: codeIn(await mail.next((m) => m.to.includes(account.email), before)).code });
    const claims = (await signIn.finish(atRp.exitUrl!)).claims()!;
    expect({ acr: claims.acr, amr: claims.amr }).toEqual({ acr: SUBSTANTIAL, amr: ['pwd', 'email', 'mfa'] });
  });

  test('a wrong password typed again sends nothing; a wrong code costs a try; after ten minutes the code is dead', async () => {
    const account = await citizen();
    const { browser } = await portalSignIn(account.username);
    const start = await browser.go('/account/setup/email');
    const since = mail.received.length;
    const wrong = await browser.submit(start, '/account/setup/email', { password: 'nem ez' });
    expect({ status: wrong.status, says: wrong.text('.error') }).toEqual({ status: 401, says: 'A jelszó nem megfelelő.' });
    const dialog = await browser.submit(start, '/account/setup/email', { password: PASSWORD });
    const codeMail = await mail.next((m) => m.to.includes(account.email), since);
    expect(mail.received.slice(since).filter((m) => m.to.includes(account.email))).toHaveLength(1);
    const { code } = codeIn(codeMail);

    const miss = await browser.submit(dialog, dialog.url.pathname, { code: otherCode(code) });
    expect({ status: miss.status, says: miss.text('.error') }).toEqual({ status: 401, says: 'A kód nem megfelelő. Még 4 próbálkozása van.' });
    kapu.clock.advance(601);
    const late = await browser.submit(dialog, dialog.url.pathname, { code });
    expect(late.url.pathname).toBe('/account/setup/email');
    expect(late.text('.error')).toBe('A beállítás ideje lejárt. Kezdje újra.');
    expect(await kapu.deps.repos.factors.kinds(account.id)).toEqual([]);
  });

  describe('the authenticator app', () => {
    /** Sets the app up from the account's page; returns the secret and the törlőkód. */
    async function setUpApp(browser: Browser, email: string, oldSecret?: string): Promise<{ secret: string; recoveryCode: string; page: Page; start: Page; setup: Page; code: string }> {
      const start = await browser.go('/account/setup/totp');
      const since = mail.received.length;
      let setup = await browser.submit(start, '/account/setup/totp', { password: PASSWORD });
      // A factor the account has proves the setup first (SPEC §5): the old app's code, else the mailed one.
      expect(setup.url.pathname).toMatch(/^\/account\/setup\/totp\/proof\//);
      const proof = oldSecret ? await appCode(oldSecret, kapu.clock) : codeIn(await mail.next((m) => m.to.includes(email), since)).code;
      setup = await browser.submit(setup, setup.url.pathname, { code: proof });
      expect(setup.doc.querySelector('img')!.getAttribute('src')).toMatch(/^data:image\/svg\+xml;base64,/);
      const secret = setup.text('#totp-key').replace(/-/g, '');
      toMiddleOfStep(kapu.clock);
      const code = await appCode(secret, kapu.clock);
      const shown = await browser.submit(setup, setup.url.pathname, { code });
      expect(shown.text('h1')).toBe('Törlőkód');
      return { secret, recoveryCode: shown.text('#recovery-code'), page: shown, start, setup, code };
    }

    test('QR code and key → the first code → active; the törlőkód is shown once, and the app then signs in', async () => {
      const account = await citizen(['email']);
      const { browser } = await portalSignIn(account.username, 'email', emailedCode(account.email));
      const { secret, recoveryCode, page, setup, code } = await setUpApp(browser, account.email);
      expect(recoveryCode).toMatch(/^[A-Z2-9]{4}(-[A-Z2-9]{4}){3}$/);
      // Reloading the törlőkód page sends its form again: the setup is done, and the page says so (not "expired").
      const reloaded = await browser.submit(setup, setup.url.pathname, { code });
      expect(reloaded.url.pathname).toBe('/account');
      expect(reloaded.text('[role=status]')).toBe(
        'A hitelesítő alkalmazás beállítása már elkészült. A törlőkódot biztonsági okból csak egyszer mutatjuk meg: ha nem írta le, a „Beállítás másik eszközre” hivatkozással új kulcsot és új törlőkódot kaphat.',
      );
      expect(reloaded.visibleText).not.toContain(recoveryCode);
      const stored = await kapu.deps.db.selectFrom('factor').select('recovery_hash').where('account_id', '=', account.id).where('kind', '=', 'totp').executeTakeFirstOrThrow();
      expect(stored.recovery_hash).toMatch(/^\$argon2id\$/);
      const home = await browser.go(page.doc.querySelector('main a.button')!.getAttribute('href')!);
      expect(home.visibleText).toContain('Beállította a hitelesítő alkalmazást.');
      expect(home.visibleText).not.toContain(recoveryCode);
      await portalSignIn(account.username, 'totp', appAnswer(secret));
    });

    test('an account with a second factor adds another only after proving one it has: the password alone shows no key, a wrong code costs a try, the mailed code opens the setup', async () => {
      const account = await citizen(['email']);
      const { browser } = await portalSignIn(account.username, 'email', emailedCode(account.email));
      const start = await browser.go('/account/setup/totp');
      const since = mail.received.length;
      const proof = await browser.submit(start, '/account/setup/totp', { password: PASSWORD });
      expect(proof.url.pathname).toMatch(/^\/account\/setup\/totp\/proof\//);
      expect(proof.text('#proof-heading')).toBe('Igazolja, hogy Ön kéri');
      expect(proof.doc.querySelector('#totp-key')).toBeNull();
      const { code } = codeIn(await mail.next((m) => m.to.includes(account.email), since));
      const miss = await browser.submit(proof, proof.url.pathname, { code: otherCode(code) });
      expect(miss.status).toBe(401);
      // Nothing is set up before the proof: no enrollment, no key.
      expect(await kapu.deps.db.selectFrom('enrollment').select('id').where('account_id', '=', account.id).execute()).toEqual([]);
      const setup = await browser.submit(miss, proof.url.pathname, { code });
      expect(setup.url.pathname).toMatch(/^\/account\/setup\/totp\/[0-9a-f-]{36}$/);
      expect(setup.text('#totp-key')).toMatch(/^[A-Z2-7]{4}(-[A-Z2-7]{1,4})+$/);
      // The proof is used up: sent again, it opens nothing more.
      const again = await browser.submit(miss, proof.url.pathname, { code });
      expect(again.url.pathname).toBe('/account/setup/totp');
    });

    test('a lost phone: username, password and törlőkód remove the app, once; a wrong part gets one answer', async () => {
      const account = await citizen(['email']);
      const { browser } = await portalSignIn(account.username, 'email', emailedCode(account.email));
      const { recoveryCode } = await setUpApp(browser, account.email);

      const stranger = new Browser(kapu.url);
      const form = await stranger.go('/account/lost-phone');
      for (const fields of [
        { username: account.username, password: 'nem ez', recovery_code: recoveryCode },
        { username: account.username, password: PASSWORD, recovery_code: 'AAAA-BBBB-CCCC-DDDD' },
        { username: 'nincs.ilyen.fiok', password: PASSWORD, recovery_code: recoveryCode },
      ]) {
        const refused = await stranger.submit(form, '/account/lost-phone', fields);
        expect({ status: refused.status, says: refused.text('.error') }).toEqual({ status: 401, says: 'A felhasználónév, a jelszó vagy a törlőkód nem megfelelő.' });
      }
      // The account's own list tells a wrong törlőkód from a wrong password (the page answers both alike).
      const told = (await browser.go('/account/events')).doc.querySelectorAll('tbody tr td:nth-child(2)').map((td) => td.text.trim()).slice(0, 2);
      expect(told).toEqual(['Hibás törlőkód (elveszett telefon)', 'Hibás jelszó']);
      const since = mail.received.length;
      const removed = await stranger.submit(form, '/account/lost-phone', { username: account.username, password: PASSWORD, recovery_code: recoveryCode.toLowerCase() });
      expect(removed.visibleText).toContain('A hitelesítő alkalmazást töröltük a fiókjából.');
      expect(await kapu.deps.repos.factors.kinds(account.id)).toEqual(['email']);
      expect((await mail.next((m) => m.to.includes(account.email), since)).subject).toBe('Ügyfélkapu+ – hitelesítő alkalmazás törölve');
      const again = await stranger.submit(form, '/account/lost-phone', { username: account.username, password: PASSWORD, recovery_code: recoveryCode });
      expect(again.status).toBe(401);
    });

    test('"Beállítás másik eszközre": a new secret and törlőkód; the old phone’s codes and the old törlőkód stop at once', async () => {
      const account = await citizen(['email']);
      const { browser } = await portalSignIn(account.username, 'email', emailedCode(account.email));
      const since = mail.received.length;
      const old = await setUpApp(browser, account.email);
      expect(old.start.text('h1')).toBe('Ügyfélkapu+ igénylés hitelesítő alkalmazással');
      kapu.clock.advance(60);
      toMiddleOfStep(kapu.clock);
      const moved = await setUpApp(browser, account.email, old.secret);
      expect(moved.secret).not.toBe(old.secret);
      expect(moved.recoveryCode).not.toBe(old.recoveryCode);
      // The move is named as such, on its pages and in its mail, which says what stopped working.
      for (const page of [moved.start, moved.setup]) expect([page.text('h1'), page.text('title')]).toEqual(['Beállítás másik eszközre', 'Beállítás másik eszközre – Ügyfélkapu+']);
      const told = await mail.next((m) => m.to.includes(account.email) && m.subject === 'Ügyfélkapu+ – a hitelesítő alkalmazás új eszközre került', since);
      expect(told.text).toContain('A régi telefon kódjai és a régi törlőkód mostantól nem érvényesek');
      // The first setup's mail was the usual one, and the move sent no second one of those.
      expect(mail.received.slice(since).filter((m) => m.to.includes(account.email) && m.subject === 'Sikeres Ügyfélkapu+ igénylés')).toHaveLength(1);

      kapu.clock.advance(60);
      const signIn = await beginSignIn(rp);
      const atRp = new Browser(kapu.url);
      const page = await signInWithPassword(atRp, signIn.url, 'totp', account.username);
      toMiddleOfStep(kapu.clock);
      const refused = await atRp.submit(page, '/verify', { code: await appCode(old.secret, kapu.clock) });
      expect(refused.status).toBe(401);
      await atRp.submit(refused, '/verify', { code: await appCode(moved.secret, kapu.clock) });
      expect(atRp.exitUrl?.searchParams.get('code')).toBeTruthy();

      const lost = new Browser(kapu.url);
      const form = await lost.go('/account/lost-phone');
      expect((await lost.submit(form, '/account/lost-phone', { username: account.username, password: PASSWORD, recovery_code: old.recoveryCode })).status).toBe(401);
    });
  });

  test('a new password: the current one, the app’s code, the new one twice; other sessions and RP tokens end, and a mail says so', async () => {
    const account = await citizen(['totp']);
    const { browser: here } = await portalSignIn(account.username, 'totp', appAnswer(account.totpSecret!));
    const { browser: elsewhere } = await portalSignIn(account.username, 'totp', appAnswer(account.totpSecret!));
    // An RP holds a refresh token of the account.
    const signIn = await beginSignIn(rp, { scope: 'openid offline_access', prompt: 'consent' });
    const atRp = new Browser(kapu.url);
    await appAnswer(account.totpSecret!)(atRp, await signInWithPassword(atRp, signIn.url, 'totp', account.username));
    const { refresh_token: refreshToken } = await signIn.finish(atRp.exitUrl!);
    expect(refreshToken).toBeDefined();

    const step1 = await here.go('/account/password');
    expect((await here.submit(step1, '/account/password', { current: 'nem ez' })).status).toBe(401);
    const step2 = await here.submit(step1, '/account/password', { current: PASSWORD });
    expect(step2.doc.querySelector('#app_code')).not.toBeNull();
    kapu.clock.advance(30);
    toMiddleOfStep(kapu.clock);
    expect((await here.submit(step2, step2.url.pathname, { app_code: await wrongAppCode(account.totpSecret!, kapu.clock), password: NEW_PASSWORD, password2: NEW_PASSWORD })).status).toBe(401);
    expect((await here.submit(step2, step2.url.pathname, { app_code: await appCode(account.totpSecret!, kapu.clock), password: 'rövid', password2: 'rövid' })).status).toBe(400);
    const since = mail.received.length;
    const done = await here.submit(step2, step2.url.pathname, { app_code: await appCode(account.totpSecret!, kapu.clock), password: NEW_PASSWORD, password2: NEW_PASSWORD });
    expect(done.visibleText).toContain('Az új jelszavát elmentettük.');
    const changed = await mail.next((m) => m.to.includes(account.email), since);
    expect(changed.subject).toBe('Ügyfélkapu+ – a jelszava megváltozott');
    // Someone else who changed it locked the owner out of "change the password": the way back is a reset.
    expect(lines(changed)).toContain(
      `Ha nem Ön változtatta meg, valaki más ismeri a régi jelszavát, és Ön most a régivel nem tud belépni. Azonnal állítson be új jelszót az „Elfelejtett jelszó” oldalon (${kapu.url}/account/reset), és forduljon az ügyfélszolgálathoz.`,
    );

    expect((await here.go('/account')).text('h1')).toBe('Fiókom');
    expect((await elsewhere.go('/account')).text('h1')).toBe('Ügyfélkapu+ fiók');
    await expect(oidc.refreshTokenGrant(rp, refreshToken!)).rejects.toMatchObject({ error: 'invalid_grant' });
    const hash = await kapu.deps.db.selectFrom('account').select('password_hash').where('id', '=', account.id).executeTakeFirstOrThrow();
    expect((await kapu.deps.passwords.verify(hash.password_hash, NEW_PASSWORD)).ok).toBe(true);
  });

  test('a forgotten password: the same answer for every username; the mailed code and a new password', async () => {
    const account = await citizen(['email']);
    const asked = async (username: string) => {
      const b = new Browser(kapu.url);
      const page = await b.submit(await b.go('/account/reset'), '/account/reset', { username });
      return { b, page };
    };
    const since = mail.received.length;
    const real = await asked(account.username);
    const madeUp = await asked('senki.sem.vagyok');
    const shape = (p: Page) => ({ status: p.status, path: p.url.pathname.replace(/[0-9a-f-]{36}/, ':id'), text: p.visibleText, fields: p.doc.querySelectorAll('input').map((i) => i.getAttribute('name')) });
    expect(shape(madeUp.page)).toEqual(shape(real.page));
    const wrongFor = async (flow: { b: Browser; page: Page }) => {
      const p = await flow.b.submit(flow.page, flow.page.url.pathname, { code: '123456', password: NEW_PASSWORD, password2: NEW_PASSWORD });
      return { status: p.status, says: p.text('.error') };
    };
    expect(await wrongFor(madeUp)).toEqual(await wrongFor(real));

    const resetMail = await mail.next((m) => m.to.includes(account.email), since);
    expect(resetMail.subject).toBe('Ügyfélkapu+ – elfelejtett jelszó');
    // The page shows the munkamenet-azonosító the mail quotes, as the sign-in's code page does —
    // and a made-up name's page one too, each the same on every reload.
    expect(real.page.value('#tag')).toBe(codeIn(resetMail).tag);
    expect(real.page.visibleText).toContain('A kód 10 percig érvényes.');
    for (const flow of [real, madeUp]) {
      expect(flow.page.value('#tag')).toMatch(/^\d{3}$/);
      expect((await flow.b.go(flow.page.url)).value('#tag')).toBe(flow.page.value('#tag'));
    }
    const done = await real.b.submit(real.page, real.page.url.pathname, { code: codeIn(resetMail).code, password: NEW_PASSWORD, password2: NEW_PASSWORD });
    expect(done.visibleText).toContain('Az új jelszavát elmentettük. Jelentkezzen be vele.');
    expect(mail.received.some((m) => m.to.includes('senki.sem.vagyok'))).toBe(false);

    // A disabled account answers like an unknown name, and no code is queued for it.
    const disabled = await citizen(['email']);
    await kapu.deps.repos.accounts.setDisabled(disabled.id, kapu.clock.now(), kapu.clock.now());
    expect(shape((await asked(disabled.username)).page)).toEqual(shape(real.page));
    const queued = await kapu.deps.db.selectFrom('mail_outbox').select('id').where('recipient', '=', disabled.email).execute();
    expect(queued).toHaveLength(0);
  });

  describe('a new email address: a second factor first, then a code to the new address; the old address is told (issue 15, item 4)', () => {
    const PROOF_SUBJECT = 'Ügyfélkapu+ – e-mail-cím módosításának megerősítése';
    const mailedTo = (address: string, since: number) => mail.received.slice(since).filter((m) => m.to.includes(address));

    /** The change is made only by the code the new address received, and both addresses are told. */
    async function finishAt(b: Browser, dialog: Page, account: { id: string; email: string }, newEmail: string, since: number) {
      const codeMail = await mail.next((m) => m.to.includes(newEmail), since);
      expect(codeMail.subject).toBe('Ügyfélkapu+ – új e-mail-cím megerősítése');
      expect((await b.submit(dialog, dialog.url.pathname, { code: otherCode(codeIn(codeMail).code) })).status).toBe(401);
      const done = await b.submit(dialog, dialog.url.pathname, { code: codeIn(codeMail).code });
      expect(done.visibleText).toContain('Az e-mail-címét módosítottuk.');
      const notice = await mail.next((m) => m.to.includes(account.email) && m.subject === 'Ügyfélkapu+ – az e-mail-címe megváltozott', since);
      expect(notice.text).toContain(newEmail);
      expect((await kapu.deps.repos.accounts.findById(account.id))!.email).toBe(newEmail);
    }

    test('with the emailed code: a code to the old address first; without it the change is refused and the new address gets nothing', async () => {
      const account = await citizen(['email']);
      const { browser: b } = await portalSignIn(account.username, 'email', emailedCode(account.email));
      const form = await b.go('/account/email');
      expect((await b.submit(form, '/account/email', { email: 'nem-cim', password: PASSWORD })).status).toBe(400);
      const since = mail.received.length;
      const proof = await b.submit(form, '/account/email', { email: 'uj.cim@example.hu', password: PASSWORD });
      expect(proof.text('#proof-heading')).toBe('Igazolja, hogy Ön kéri');
      const proofMail = await mail.next((m) => m.to.includes(account.email), since);
      expect(proofMail.subject).toBe(PROOF_SUBJECT);
      expect(mailedTo('uj.cim@example.hu', since)).toEqual([]);

      // Straight to the new address's step, with any code: refused, and still nothing for the new address.
      const csrf = proof.value('input[name="csrf"]')!;
      expect((await b.post(proof.url.pathname, `csrf=${csrf}&code=123456`)).status).toBe(303);
      const skipped = await b.go(proof.url.pathname);
      expect({ status: skipped.status, says: skipped.text('.error') }).toEqual({ status: 400, says: 'Előbb igazolja Ügyfélkapu+ azonosítással, hogy Ön kéri a módosítást: csak utána küldünk kódot az új címre.' });
      expect((await kapu.deps.repos.accounts.findById(account.id))!.email).toBe(account.email);
      // A wrong code from the old address is counted like any code; the right one sends the new address its code.
      const wrong = await b.submit(proof, '/proof', { code: otherCode(codeIn(proofMail).code) });
      expect(wrong.status).toBe(401);
      expect(mailedTo('uj.cim@example.hu', since)).toEqual([]);
      const dialog = await b.submit(wrong, '/proof', { code: codeIn(proofMail).code });
      expect(dialog.text('#code-heading')).toBe('Írja be az új címre küldött kódot');
      await finishAt(b, dialog, account, 'uj.cim@example.hu', since);
    });

    test('with the app and the emailed code: the app by default, the old address on request; the app’s code lets the new address have its code', async () => {
      const account = await citizen(['totp', 'email']);
      const { browser: b } = await portalSignIn(account.username, 'totp', appAnswer(account.totpSecret!));
      const since = mail.received.length;
      const proof = await b.submit(await b.go('/account/email'), '/account/email', { email: 'masik.cim@example.hu', password: PASSWORD });
      expect(proof.doc.querySelector('input[name="code"]')).not.toBeNull();
      expect(proof.doc.querySelectorAll('button[name="factor"]').map((x) => x.text.trim())).toEqual(['Ügyfélkapu+ e-mailes kóddal']);
      expect(mailedTo(account.email, since)).toEqual([]);

      // The citizen may choose the other factor: a code to the old address; and back to the app.
      const byMail = await b.submit(proof, '/proof-factor', {}, { name: 'factor', value: 'email' });
      expect((await mail.next((m) => m.to.includes(account.email), since)).subject).toBe(PROOF_SUBJECT);
      const byApp = await b.submit(byMail, '/proof-factor', {}, { name: 'factor', value: 'totp' });
      kapu.clock.advance(30);
      toMiddleOfStep(kapu.clock);
      expect((await b.submit(byApp, '/proof', { code: await wrongAppCode(account.totpSecret!, kapu.clock) })).status).toBe(401);
      const dialog = await b.submit(byApp, '/proof', { code: await appCode(account.totpSecret!, kapu.clock) });
      await finishAt(b, dialog, account, 'masik.cim@example.hu', since);
    });

    test('a password-only account has no second factor to ask: the password again and the new address’s code', async () => {
      const account = await citizen();
      const { browser: b } = await portalSignIn(account.username);
      const since = mail.received.length;
      const dialog = await b.submit(await b.go('/account/email'), '/account/email', { email: 'harmadik.cim@example.hu', password: PASSWORD });
      await finishAt(b, dialog, account, 'harmadik.cim@example.hu', since);
    });
  });

  test('recent sign-ins list when, which RP, how, the browser and the address; an account keeps its last factor; sign-out and idleness end the session', async () => {
    const account = await citizen(['email']);
    const signIn = await beginSignIn(rp);
    const atRp = new Browser(kapu.url);
    await emailedCode(account.email)(atRp, await signInWithPassword(atRp, signIn.url, 'email', account.username));

    const { browser: b, home } = await portalSignIn(account.username, 'email', emailedCode(account.email));
    expect(links(home)).not.toContain('Ügyfélkapu+ e-mailes kóddal törlése');

    const events = await b.go('/account/events');
    expect(events.visibleText).toContain('Sikeres bejelentkezés (e-mailes kód)');
    expect(events.visibleText).toContain('Minta Ügyintézés');
    expect(events.visibleText).toContain('127.0.0.1');

    const last = await b.go('/account/remove/email');
    const refused = await b.submit(last, '/account/remove/email', { password: PASSWORD });
    expect({ status: refused.status, says: refused.text('.error') }).toEqual({ status: 400, says: 'Az utolsó Ügyfélkapu+ azonosítási módot nem lehet törölni. Előbb állítson be egy másikat.' });

    kapu.clock.advance(16 * 60);
    const over = await b.go('/account/events');
    expect(over.url.pathname).toBe('/account');
    expect(over.visibleText).toContain('A munkamenet lejárt.');
  });

  test('a second portal sign-in in the same browser ends the earlier portal session once it finishes (issue 15, item 7)', async () => {
    const account = await citizen(['email']);
    const browser = new Browser(kapu.url);
    // A landing page left open (another tab) while the first sign-in goes on.
    const stale = await browser.go('/account');
    await portalSignIn(account.username, 'email', emailedCode(account.email), browser);
    // The session cookie (signed: the value and its signature), as another browser could hold a copy of it.
    const sessionCookie = () => `${PORTAL_SESSION_COOKIE}=${browser.cookie(PORTAL_SESSION_COOKIE)}; ${PORTAL_SESSION_COOKIE}.sig=${browser.cookie(`${PORTAL_SESSION_COOKIE}.sig`)}`;
    const earlier = sessionCookie();
    const withCookie = (cookie: string) => new Browser(kapu.url).go('/account', { headers: { cookie } });
    expect((await withCookie(earlier)).text('h1')).toBe('Fiókom');

    const chooser = await browser.submit(stale, '/account/sign-in');
    // Begun, not finished: the earlier session still stands (a sign-in given up signs nobody out).
    expect((await withCookie(earlier)).text('h1')).toBe('Fiókom');
    const passwordPage = await browser.submit(chooser, '/method', {}, { name: 'method', value: 'email' });
    const home = await emailedCode(account.email)(browser, await browser.submit(passwordPage, '/password', { username: account.username, password: PASSWORD }));
    expect(home.text('h1')).toBe('Fiókom');
    const later = sessionCookie();
    expect(later).not.toBe(earlier);

    expect((await withCookie(earlier)).text('h1')).toBe('Ügyfélkapu+ fiók');
    expect((await withCookie(later)).text('h1')).toBe('Fiókom');
    expect(await kapu.deps.db.selectFrom('portal_session').select('id').where('account_id', '=', account.id).execute()).toHaveLength(1);
  });

  test('portal forms need their CSRF token', async () => {
    const b = new Browser(kapu.url);
    await b.go('/account');
    const res = await b.post('/account/sign-in', 'csrf=nope');
    expect(res.status).toBe(403);
  });

  describe('the inline upgrade at an RP (SPEC §4)', () => {
    test('after the cut-off, a password-only account sets an emailed code up during the sign-in and reaches the RP at substantial', async () => {
      const account = await citizen();
      const signIn = await beginSignIn(rp);
      const browser = new Browser(kapu.url, { 'user-agent': CHROME_ON_LINUX });
      const upgrade = await signInWithPassword(browser, signIn.url, 'email', account.username);
      expect(upgrade.text('h1')).toBe('Ügyfélkapu+ szükséges');
      expect(upgrade.visibleText).not.toContain('Folytatás csak jelszóval');
      const since = mail.received.length;
      const setup = await browser.submit(upgrade, '/setup', {}, { name: 'factor', value: 'email' });
      const codeMail = await mail.next((m) => m.to.includes(account.email), since);
      expect(codeMail.subject).toBe('Ügyfélkapu+ igénylés – Megerősítő kód');
      // It names the service being signed in to and this browser, as a sign-in's code mail does.
      expect(lines(codeMail)).toEqual(expect.arrayContaining(['Szolgáltatás: Minta Ügyintézés', 'Böngésző: Chrome 131, Linux']));
      // One message about the code, naming it by its name (a "Megerősítő kód", not a "hitelesítő kód").
      expect(setup.doc.querySelectorAll('[role=status], [role=alert]')).toHaveLength(0);
      expect(setup.visibleText).toContain(`Megerősítő kódot küldtünk ide: ${account.email}. A kód 10 percig érvényes.`);
      expect(setup.visibleText).not.toContain('hitelesítő kód');
      await browser.submit(setup, '/verify', { code: codeIn(codeMail).code });
      const claims = (await signIn.finish(browser.exitUrl!)).claims()!;
      expect({ acr: claims.acr, amr: claims.amr }).toEqual({ acr: SUBSTANTIAL, amr: ['pwd', 'email', 'mfa'] });
      expect(await kapu.deps.repos.factors.kinds(account.id)).toEqual(['email']);
    });

    test('…or the app, whose törlőkód is shown before going on', async () => {
      const account = await citizen();
      const signIn = await beginSignIn(rp);
      const browser = new Browser(kapu.url);
      const upgrade = await signInWithPassword(browser, signIn.url, 'totp', account.username);
      const setup = await browser.submit(upgrade, '/setup', {}, { name: 'factor', value: 'totp' });
      const secret = setup.text('#totp-key').replace(/-/g, '');
      toMiddleOfStep(kapu.clock);
      const shown = await browser.submit(setup, '/verify', { code: await appCode(secret, kapu.clock) });
      expect(shown.text('#recovery-code')).toMatch(/^[A-Z2-9]{4}(-[A-Z2-9]{4}){3}$/);
      await browser.go(shown.doc.querySelector('main a.button')!.getAttribute('href')!);
      const claims = (await signIn.finish(browser.exitUrl!)).claims()!;
      expect({ acr: claims.acr, amr: claims.amr }).toEqual({ acr: SUBSTANTIAL, amr: ['pwd', 'otp', 'mfa'] });
    });
  });
});

describe('before the cut-off', () => {
  let kapu: TestKapu;
  beforeAll(async () => {
    kapu = await startTestKapu({ env: { LEGACY_LOGIN_UNTIL: '2099-01-01' } });
  });
  afterAll(async () => {
    await kapu?.close();
  });

  test('a password-only citizen who picked Ügyfélkapu+ sees "continue with password" next to getting it now, and the RP gets low', async () => {
    const { rp } = await kapu.client();
    await kapu.account('meg.nem.valtott');
    const signIn = await beginSignIn(rp);
    const browser = new Browser(kapu.url);
    const upgrade = await signInWithPassword(browser, signIn.url, 'email', 'meg.nem.valtott');
    expect(upgrade.doc.querySelectorAll('button').map((b) => b.text.trim())).toEqual(
      expect.arrayContaining(['Ügyfélkapu+ igénylés e-mailes kóddal', 'Ügyfélkapu+ igénylés hitelesítő alkalmazással', 'Folytatás csak jelszóval']),
    );
    await browser.submit(upgrade, '/continue');
    expect((await signIn.finish(browser.exitUrl!)).claims()!.acr).toBe(LOW);
  });
});
