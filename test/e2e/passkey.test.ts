/**
 * Passkeys at an RP (issue 19), through kapu's real pages and openid-client as the RP, with a
 * software authenticator answering the options the pages carry (what the page's script hands to
 * navigator.credentials): as the second factor after the password, passwordless with no
 * username typed, at the level ACR_PASSKEY names, and refused when the answer was made for
 * another origin.
 */
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { isoBase64URL } from '@simplewebauthn/server/helpers';
import { Browser, type Page } from '../helpers/browser.ts';
import { USER_POLICY } from '../../src/security/throttle.ts';
import { type TestKapu, PASSWORD, beginSignIn, signInWithPassword } from '../helpers/kapu.ts';
import type { MailSink } from '../helpers/mail-sink.ts';
import { kapuWithMail } from '../helpers/suite.ts';
import { SoftwareAuthenticator } from '../helpers/software-authenticator.ts';
import { addPasskey } from '../helpers/passkey-account.ts';

const HIGH = 'http://eidas.europa.eu/LoA/high';
const PASSKEY = 'passkey';

/** The options the page's passkey part carries for the browser. */
function optionsOn(page: Page): PublicKeyCredentialRequestOptionsJSON {
  const raw = page.doc.querySelector('[data-passkey]')?.getAttribute('data-passkey-options');
  if (!raw) throw new Error(`no passkey part on ${page.url.pathname}: ${page.visibleText.slice(0, 300)}`);
  return JSON.parse(raw) as PublicKeyCredentialRequestOptionsJSON;
}

/** An account with `factors`, and a passkey added through the factor's own setup, held by `authenticator`. */
async function withPasskey(kapu: TestKapu, username: string, authenticator: SoftwareAuthenticator, factors = ['email']) {
  const account = await kapu.account(username, factors);
  await addPasskey(kapu.deps, account, authenticator);
  return account;
}

describe('passkeys at an RP', () => {
  let kapu: TestKapu;
  let mail: MailSink;
  let origin: string;
  kapuWithMail(
    (s) => {
      ({ kapu, mail } = s);
      origin = new URL(kapu.url).origin;
    },
    { env: { ACR_PASSKEY: HIGH } },
  );

  test('as the second factor after the password: the account’s passkeys are offered, and the RP gets pwd, hwk, user, mfa at ACR_PASSKEY', async () => {
    const authenticator = new SoftwareAuthenticator(origin);
    await withPasskey(kapu, 'kulcs.masodik', authenticator);
    const { rp } = await kapu.client();
    const browser = new Browser(kapu.url);
    const signIn = await beginSignIn(rp);
    const afterPassword = await signInWithPassword(browser, signIn.url, 'email', 'kulcs.masodik');
    // The account has the emailed code and a passkey: switch to the passkey.
    const page = afterPassword.hasForm('/factor') ? await browser.submit(afterPassword, '/factor', {}, { name: 'factor', value: PASSKEY }) : afterPassword;
    const options = optionsOn(page);
    expect(options.rpId).toBe(new URL(kapu.url).hostname);
    expect(options.allowCredentials?.map((c) => c.id)).toEqual([isoBase64URL.fromBuffer(authenticator.credentials[0]!.id)]);
    await browser.submit(page, '/verify', { credential: JSON.stringify(authenticator.get(options)) });
    const tokens = await signIn.finish(browser.exitUrl!);
    expect(tokens.claims()).toMatchObject({ acr: HIGH, amr: ['pwd', 'hwk', 'user', 'mfa'] });
  });

  test('"Bejelentkezés passkey-jel" with the username and password first: the passkey is then the second factor', async () => {
    const authenticator = new SoftwareAuthenticator(origin);
    const account = await withPasskey(kapu, 'kulcs.jelszoval', authenticator);
    const { rp } = await kapu.client();
    const browser = new Browser(kapu.url);
    const signIn = await beginSignIn(rp);
    const passwordless = await browser.submit(await browser.go(signIn.url), '/method', {}, { name: 'method', value: PASSKEY });
    const passwordPage = await browser.submit(passwordless, '/with-password');
    expect(passwordPage.visibleText).toContain('Bejelentkezés passkey-jel');
    const page = await browser.submit(passwordPage, '/password', { username: 'kulcs.jelszoval', password: PASSWORD });
    const options = optionsOn(page);
    expect(options.allowCredentials?.map((c) => c.id)).toEqual([isoBase64URL.fromBuffer(authenticator.credentials[0]!.id)]);
    await browser.submit(page, '/verify', { credential: JSON.stringify(authenticator.get(options)) });
    expect((await signIn.finish(browser.exitUrl!)).claims()).toMatchObject({ sub: account.id, amr: ['pwd', 'hwk', 'user', 'mfa'] });
  });

  test('a forgotten password: the mailed code and the passkey, on a page that is the same for any name', async () => {
    const authenticator = new SoftwareAuthenticator(origin);
    const account = await withPasskey(kapu, 'kulcs.elfelejtett', authenticator, ['totp']);
    const asked = async (username: string) => {
      const b = new Browser(kapu.url);
      return { b, page: await b.submit(await b.go('/account/reset'), '/account/reset', { username }) };
    };
    const since = mail.received.length;
    const real = await asked('kulcs.elfelejtett');
    const madeUp = await asked('senki.kulcsa');
    const shape = (p: Page) => ({ text: p.visibleText, fields: p.doc.querySelectorAll('input').map((i) => i.getAttribute('name')), passkey: optionsOn(p).allowCredentials });
    expect(shape(madeUp.page)).toEqual(shape(real.page));
    expect(real.page.visibleText).toContain('az alábbiak közül egyet használjon');
    const code = /Kód: (\d{6})/.exec((await mail.next((m) => m.to.includes(account.email) && m.subject === 'Ügyfélkapu+ – elfelejtett jelszó', since)).text)![1]!;
    const password = 'egy hosszú új jelszó 2026';
    const done = await real.b.submit(real.page, real.page.url.pathname, { code, password, password2: password, credential: JSON.stringify(authenticator.get(optionsOn(real.page))) });
    expect(done.visibleText).toContain('Az új jelszavát elmentettük. Jelentkezzen be vele.');
  });

  test('passwordless, "Bejelentkezés passkey-jel": no username typed, user verification asked, amr without pwd', async () => {
    const authenticator = new SoftwareAuthenticator(origin, { synced: true });
    const account = await withPasskey(kapu, 'kulcs.egyedul', authenticator);
    const { rp } = await kapu.client();
    const browser = new Browser(kapu.url);
    const signIn = await beginSignIn(rp, { acr_values: HIGH });
    const chooser = await browser.go(signIn.url);
    expect(chooser.visibleText).toContain('Bejelentkezés passkey-jel');
    const page = await browser.submit(chooser, '/method', {}, { name: 'method', value: PASSKEY });
    expect(page.hasForm('/password')).toBe(false);
    const options = optionsOn(page);
    expect(options).toMatchObject({ userVerification: 'required', allowCredentials: [] });
    await browser.submit(page, '/verify', { credential: JSON.stringify(authenticator.get(options)) });
    const tokens = await signIn.finish(browser.exitUrl!);
    expect(tokens.claims()).toMatchObject({ sub: account.id, acr: HIGH, amr: ['swk', 'user', 'mfa'] });
  });

  test('an answer made on another origin is refused on the page and the RP gets nothing; the fresh challenge the page then has works', async () => {
    const authenticator = new SoftwareAuthenticator(origin);
    await withPasskey(kapu, 'kulcs.adathalasz', authenticator);
    const { rp } = await kapu.client();
    const browser = new Browser(kapu.url);
    const signIn = await beginSignIn(rp);
    const page = await browser.submit(await browser.go(signIn.url), '/method', {}, { name: 'method', value: PASSKEY });
    const phished = authenticator.get(optionsOn(page), { origin: 'https://ugyfelkapu.example.com' });
    const refused = await browser.submit(page, '/verify', { credential: JSON.stringify(phished) });
    expect(browser.exitUrl).toBeUndefined();
    expect(refused.visibleText).toContain('Ezzel a passkey-jel nem sikerült az azonosítás.');

    // The refusal's page has a fresh challenge; the answer to it works once.
    const answer = JSON.stringify(authenticator.get(optionsOn(refused)));
    await browser.submit(refused, '/verify', { credential: answer });
    expect(browser.exitUrl?.searchParams.get('code')).toBeTruthy();
  });

  test('a username locked by strangers’ guesses: the citizen still signs in with the passkey, and the lock stays for the password', async () => {
    const authenticator = new SoftwareAuthenticator(origin);
    const account = await withPasskey(kapu, 'kulcs.ostromlott', authenticator);
    const { rp } = await kapu.client();
    const stranger = new Browser(kapu.url);
    for (let i = 0; i < USER_POLICY.freeFailures + 1; i += 1) {
      expect((await signInWithPassword(stranger, (await beginSignIn(rp)).url, 'legacy', 'kulcs.ostromlott', `guess ${i}`)).html).toContain('Hibás felhasználónév vagy jelszó');
    }
    const legacy = await signInWithPassword(new Browser(kapu.url), (await beginSignIn(rp)).url, 'legacy', 'kulcs.ostromlott', PASSWORD);
    expect(legacy.html).toContain('Hibás felhasználónév vagy jelszó');

    const browser = new Browser(kapu.url);
    const signIn = await beginSignIn(rp);
    const page = await browser.submit(await browser.go(signIn.url), '/method', {}, { name: 'method', value: PASSKEY });
    await browser.submit(page, '/verify', { credential: JSON.stringify(authenticator.get(optionsOn(page))) });
    expect((await signIn.finish(browser.exitUrl!)).claims()).toMatchObject({ sub: account.id, amr: ['hwk', 'user', 'mfa'] });
  });

  test('adding and removing a passkey each mail the citizen, naming the passkey; the last way in stays', async () => {
    const authenticator = new SoftwareAuthenticator(origin);
    const since = mail.received.length;
    const account = await withPasskey(kapu, 'kulcs.levelek', authenticator);
    const added = await mail.next((m) => m.to.includes(account.email) && m.subject === 'Ügyfélkapu+ – új passkey a fiókjában', since);
    expect(added.text).toContain('Laptop');

    const session = { id: 'test', signedInAt: new Date(), account: { id: account.id, username: 'kulcs.levelek', name: 'Teszt kulcs.levelek', email: account.email, factorKinds: ['email', PASSKEY] } };
    const who = { ip: '127.0.0.1', lang: 'hu' as const, browser: null };
    const [passkey] = (await kapu.deps.account.devices(session, PASSKEY))!;
    expect(passkey).toMatchObject({ name: 'Laptop', lastUsedAt: null, note: 'passkey.device_bound' });
    expect(await kapu.deps.account.removeDevice(session, PASSKEY, passkey!.id, 'not the password', who)).toMatchObject({ ok: false });
    expect(await kapu.deps.account.removeDevice(session, PASSKEY, passkey!.id, PASSWORD, who)).toEqual({ ok: true });
    const removed = await mail.next((m) => m.to.includes(account.email) && m.subject === 'Ügyfélkapu+ – passkey eltávolítva', since);
    expect(removed.text).toContain('Laptop');
    expect(await kapu.deps.account.devices(session, PASSKEY)).toEqual([]);

    // An account whose only way in is its one passkey keeps it.
    const only = await withPasskey(kapu, 'kulcs.egyetlen', new SoftwareAuthenticator(origin), []);
    const alone = { ...session, account: { ...session.account, id: only.id, username: 'kulcs.egyetlen', email: only.email, factorKinds: [PASSKEY] } };
    const [last] = (await kapu.deps.account.devices(alone, PASSKEY))!;
    expect(await kapu.deps.account.removeDevice(alone, PASSKEY, last!.id, PASSWORD, who)).toMatchObject({ ok: false, notice: { key: 'account.last_factor' } });
  });

  test('a password-only account at an RP that demands substantial sets a passkey up right there, named, and goes on', async () => {
    const authenticator = new SoftwareAuthenticator(origin);
    const account = await kapu.account('kulcs.menet', []);
    const { rp } = await kapu.client();
    const browser = new Browser(kapu.url);
    const signIn = await beginSignIn(rp, { acr_values: 'http://eidas.europa.eu/LoA/substantial' });
    const upgrade = await signInWithPassword(browser, signIn.url, 'email', 'kulcs.menet');
    const setup = await browser.submit(upgrade, '/setup', {}, { name: 'factor', value: PASSKEY });
    const raw = setup.doc.querySelector('[data-passkey="create"]')?.getAttribute('data-passkey-options');
    const created = authenticator.create(JSON.parse(raw!));
    // No name: asked for, and nothing is added.
    const unnamed = await browser.submit(setup, '/verify', { credential: JSON.stringify(created), name: ' ' });
    expect(unnamed.visibleText).toContain('Adjon nevet a passkey-nek (legfeljebb 60 karakter).');
    const again = authenticator.create(JSON.parse(unnamed.doc.querySelector('[data-passkey="create"]')!.getAttribute('data-passkey-options')!));
    await browser.submit(unnamed, '/verify', { credential: JSON.stringify(again), name: 'Munkahelyi laptop' });
    const tokens = await signIn.finish(browser.exitUrl!);
    expect(tokens.claims()).toMatchObject({ sub: account.id, acr: HIGH, amr: ['pwd', 'hwk', 'user', 'mfa'] });
  });
});
