/**
 * The DÁP method (mobile-app sign-in) over HTTP: the device protocol spoken directly with real
 * ES256 keys (node:crypto) — every refusal of issue 8 item 5 — the sign-in at an RP with
 * number matching and no password, the levels an RP gets, and the portal's phones.
 */
import { DAP_REPOSITORY } from '../../src/factors/dap/repository.ts';
import { generateKeyPairSync } from 'node:crypto';
import * as oidc from 'openid-client';
import { removeFactor } from '../../src/admin/accounts.ts';
import { Browser, type Page } from '../helpers/browser.ts';
import { type TestKapu, PASSWORD, beginSignIn, startTestKapu } from '../helpers/kapu.ts';
import type { MailSink } from '../helpers/mail-sink.ts';
import { API, type ChallengeInfo, PIN, Phone } from '../helpers/phone.ts';
import { appCode, toMiddleOfStep } from '../helpers/totp.ts';
import { kapuWithMail } from '../helpers/suite.ts';

const SUBSTANTIAL = 'http://eidas.europa.eu/LoA/substantial';

describe('the DÁP method', () => {
  let kapu: TestKapu;
  let mail: MailSink;
  let rp: oidc.Configuration;
  let people = 0;

  // Password-only sign-in has ended: the app counts as Ügyfélkapu+.
  kapuWithMail((s) => ({ kapu, mail, rp } = s), { env: { LEGACY_LOGIN_UNTIL: '2025-01-16' }, client: { clientName: 'Minta Ügyintézés' } });

  async function citizen(factors: string[] = []) {
    people += 1;
    return kapu.account(`dap.${people}`, factors);
  }

  /** The link the portal's setup page shows for a new enrollment of the app. */
  async function enrollmentLink(accountId: string): Promise<string> {
    const { deps } = kapu;
    const begun = await deps.enrollments.begin(accountId, 'dap', 'hu');
    if (!begun.ok) throw new Error('enrollment refused');
    const account = (await deps.repos.accounts.findById(accountId))!;
    const shown = await deps.uow.transaction((r) => deps.enrollments.view(r, account, begun.enrollmentId, 'hu'));
    return (shown!.view.data as { link: string }).link;
  }

  /** A citizen whose phone is enrolled. */
  async function withPhone(factors: string[] = []) {
    const account = await citizen(factors);
    const phone = new Phone(kapu.url);
    expect((await phone.enroll(await enrollmentLink(account.id))).status).toBe(201);
    return { account, phone };
  }

  /** An RP's sign-in with "DÁP mobilalkalmazás": the waiting page, its link and its number. */
  async function waitingPage(browser = new Browser(kapu.url), params: Record<string, string> = {}) {
    const signIn = await beginSignIn(rp, params);
    const chooser = await browser.go(signIn.url);
    const page = await browser.submit(chooser, '/method', {}, { name: 'method', value: 'dap' });
    return { signIn, browser, page, ...shownOn(page) };
  }

  function shownOn(page: Page): { link: string; number: string } {
    const link = page.doc.querySelector('#dap-link')?.getAttribute('href');
    if (!link) throw new Error(`no challenge link on ${page.url.pathname}: ${page.visibleText.slice(0, 300)}`);
    return { link, number: page.text('#dap-number') };
  }

  async function opened(phone: Phone, link: string): Promise<ChallengeInfo> {
    const answer = await phone.open(link);
    expect(answer.status).toBe(200);
    return answer.body;
  }

  const pressContinue = (browser: Browser, page: Page) => browser.submit(page, '/verify');

  test('the chooser offers "DÁP mobilalkalmazás" first; the phone approves with the matching number and the PIN; the RP gets swk pin mfa at substantial, with no password typed', async () => {
    const { account, phone } = await withPhone();
    const signIn = await beginSignIn(rp);
    const browser = new Browser(kapu.url);
    const chooser = await browser.go(signIn.url);
    expect(chooser.doc.querySelectorAll('button[name=method]').map((b) => b.text.trim())).toEqual(['DÁP mobilalkalmazás', 'Ügyfélkapu+ hitelesítő alkalmazással', 'Ügyfélkapu+ e-mailes kóddal', 'Bejelentkezés passkey-jel']);
    const page = await browser.submit(chooser, '/method', {}, { name: 'method', value: 'dap' });
    expect(page.doc.querySelector('input[type=password]')).toBeNull();
    expect(page.doc.querySelector('img#dap-qr')?.getAttribute('src')).toMatch(/^data:image\/svg\+xml;base64,/);
    const { link, number } = shownOn(page);
    expect(number).toMatch(/^\d{3}$/);

    const info = await opened(phone, link);
    expect(info.numbers).toHaveLength(3);
    expect(info.numbers).toContain(number);
    expect(new Set(info.numbers).size).toBe(3);
    expect(info.client).toBe('Minta Ügyintézés');
    // The browser is on this machine: a local network, which names no place (not "127.0.0.x").
    expect({ place: info.place, local: info.local }).toEqual({ place: null, local: true });
    expect(await kapu.deps.signIns.status(info.interaction, { ip: '127.0.0.1', lang: 'hu', browser: null })).toEqual({ kind: 'status', status: 'pending' });

    expect(await phone.approve(info.challengeId, phone.approvalBody(info, number))).toMatchObject({ status: 200, body: { status: 'approved' } });
    const done = await pressContinue(browser, page);
    expect(done.status).toBe(0);
    const claims = (await signIn.finish(browser.exitUrl!)).claims()!;
    expect({ sub: claims.sub, acr: claims.acr, amr: claims.amr }).toEqual({ sub: account.id, acr: SUBSTANTIAL, amr: ['swk', 'pin', 'mfa'] });
  });

  test('"Tovább" before the phone decided shows the page again and costs no try; the status says pending', async () => {
    await withPhone();
    const { browser, page } = await waitingPage();
    for (let i = 0; i < 12; i += 1) {
      const again = await pressContinue(browser, page);
      expect(again.status).toBe(200);
      expect(again.text('#notice')).toContain('még nem hagyta jóvá');
    }
    const status = await fetch(new URL(`${page.url.pathname}/status`, kapu.url), { headers: { accept: 'application/json', cookie: '' } });
    // Another browser (no interaction cookie) learns nothing.
    expect(status.status).toBe(400);
  });

  test('after the cut-off a password-only account sets the app up right at the RP (it counts as Ügyfélkapu+) and goes on at substantial', async () => {
    const account = await citizen();
    const signIn = await beginSignIn(rp);
    const browser = new Browser(kapu.url);
    const chooser = await browser.go(signIn.url);
    const passwordPage = await browser.submit(chooser, '/method', {}, { name: 'method', value: 'email' });
    const upgrade = await browser.submit(passwordPage, '/password', { username: account.username, password: PASSWORD });
    expect(upgrade.doc.querySelectorAll('button[name=factor]').map((b) => b.text.trim())).toContain('Mobilalkalmazás beállítása');
    const setup = await browser.submit(upgrade, '/setup', {}, { name: 'factor', value: 'dap' });
    const link = setup.doc.querySelector('#dap-link')!.getAttribute('href')!;
    expect((await new Phone(kapu.url).enroll(link)).status).toBe(201);
    const ready = await browser.go(setup.url);
    await browser.submit(ready, '/verify');
    const claims = (await signIn.finish(browser.exitUrl!)).claims()!;
    expect({ acr: claims.acr, amr: claims.amr }).toEqual({ acr: SUBSTANTIAL, amr: ['pwd', 'swk', 'pin', 'mfa'] });
    expect(await kapu.deps.repos.factors.kinds(account.id)).toEqual(['dap']);
  });

  test('an approval is collected only by the browser that started the sign-in', async () => {
    const { phone } = await withPhone();
    const { page, link, number } = await waitingPage();
    const info = await opened(phone, link);
    expect((await phone.approve(info.challengeId, phone.approvalBody(info, number))).status).toBe(200);
    // Another browser that learnt the sign-in's address and form (but has not its cookie).
    const other = new Browser(kapu.url);
    const csrf = page.value('input[name="csrf"]')!;
    const stolen = await other.post(`${page.url.pathname}/verify`, new URLSearchParams({ csrf }).toString());
    expect(stolen.status).toBe(400);
    expect(other.exitUrl).toBeUndefined();
  });

  describe('abuse (issue 8, item 5)', () => {
    test('a stolen enrollment link is useless after its first use', async () => {
      const account = await citizen();
      const link = await enrollmentLink(account.id);
      expect((await new Phone(kapu.url).enroll(link)).status).toBe(201);
      const thief = new Phone(kapu.url);
      expect(await thief.enroll(link)).toMatchObject({ status: 410, body: { error: 'enrollment_invalid' } });
      expect(await kapu.deps.repos.of(DAP_REPOSITORY).devices(account.id)).toHaveLength(1);
    });

    test('… and after ten minutes; a forged token is no better', async () => {
      const account = await citizen();
      const link = await enrollmentLink(account.id);
      const forged = link.replace(/\.[A-Za-z0-9_-]+$/, `.${'A'.repeat(43)}`);
      expect(await new Phone(kapu.url).enroll(forged)).toMatchObject({ status: 410, body: { error: 'enrollment_invalid' } });
      kapu.clock.advance(601);
      expect(await new Phone(kapu.url).enroll(link)).toMatchObject({ status: 410, body: { error: 'enrollment_invalid' } });
      expect(await kapu.deps.repos.of(DAP_REPOSITORY).devices(account.id)).toHaveLength(0);
    });

    test('enrolling needs a signature by the key being registered', async () => {
      const account = await citizen();
      const link = await enrollmentLink(account.id);
      const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      expect(await new Phone(kapu.url).enroll(link, { signWith: other })).toMatchObject({ status: 401, body: { error: 'bad_signature' } });
      // The link is still good for the phone that holds its key.
      expect((await new Phone(kapu.url).enroll(link)).status).toBe(201);
    });

    test('an approval is checked against the registered key over the exact challenge bytes', async () => {
      const { phone } = await withPhone();
      const { page, browser, link, number } = await waitingPage();
      const info = await opened(phone, link);
      const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      expect(await phone.approve(info.challengeId, phone.approvalBody(info, number, PIN, stranger))).toMatchObject({ status: 401, body: { error: 'bad_signature' } });
      // Signed for one number, sent with another: not the bytes that were signed.
      const signed = phone.approvalBody(info, number);
      const other = info.numbers.find((n) => n !== number)!;
      expect(await phone.approve(info.challengeId, { ...signed, number: other })).toMatchObject({ status: 401, body: { error: 'bad_signature' } });
      // For another kapu (origin): refused too.
      const elsewhere = phone.approvalBody({ ...info, nonce: info.nonce.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) }, number);
      expect(await phone.approve(info.challengeId, elsewhere)).toMatchObject({ status: 401, body: { error: 'bad_signature' } });
      expect((await pressContinue(browser, page)).text('#notice')).toContain('még nem hagyta jóvá');
    });

    test('a replayed approval is refused, and the browser collects an approval once', async () => {
      const { phone } = await withPhone();
      const { page, browser, link, number, signIn } = await waitingPage();
      const info = await opened(phone, link);
      const body = phone.approvalBody(info, number);
      expect((await phone.approve(info.challengeId, body)).status).toBe(200);
      expect(await phone.approve(info.challengeId, body)).toMatchObject({ status: 409, body: { error: 'challenge_decided' } });
      await pressContinue(browser, page);
      expect((await signIn.finish(browser.exitUrl!)).claims()?.amr).toEqual(['swk', 'pin', 'mfa']);
      expect(await phone.approve(info.challengeId, body)).toMatchObject({ status: 409 });
    });

    test('a re-ordered approval (for a QR code the sign-in has replaced) is refused', async () => {
      const { phone } = await withPhone();
      const { page, browser, link: oldLink, number: oldNumber } = await waitingPage();
      const oldInfo = await opened(phone, oldLink);
      const fresh = await browser.submit(page, '/resend');
      const { link, number } = shownOn(fresh);
      expect(link).not.toBe(oldLink);
      expect(number).not.toBe(oldNumber);
      expect(await phone.approve(oldInfo.challengeId, phone.approvalBody(oldInfo, oldNumber))).toMatchObject({ status: 409, body: { error: 'challenge_decided' } });
      expect((await pressContinue(browser, fresh)).text('#notice')).toContain('még nem hagyta jóvá');
    });

    test('a cross-interaction approval is refused: a signature for one sign-in does not approve another, nor does one sign-in collect another’s approval', async () => {
      const { phone } = await withPhone();
      const first = await waitingPage();
      const second = await waitingPage();
      const a = await opened(phone, first.link);
      const b = await opened(phone, second.link);
      const forA = phone.approvalBody(a, first.number);
      expect(await phone.approve(b.challengeId, { ...forA, number: second.number })).toMatchObject({ status: 401, body: { error: 'bad_signature' } });
      expect((await phone.approve(a.challengeId, forA)).status).toBe(200);
      expect((await pressContinue(second.browser, second.page)).text('#notice')).toContain('még nem hagyta jóvá');
      // The first browser's own sign-in goes on.
      await pressContinue(first.browser, first.page);
      expect(first.browser.exitUrl).toBeDefined();
    });

    test('wrong PINs are counted by kapu; the fifth in a row locks the device until it is enrolled again', async () => {
      const { account, phone } = await withPhone();
      const { link, number } = await waitingPage();
      const info = await opened(phone, link);
      for (let left = 4; left >= 1; left -= 1) {
        expect(await phone.approve(info.challengeId, phone.approvalBody(info, number, '000000'))).toMatchObject({ status: 401, body: { error: 'wrong_pin', attemptsLeft: left } });
      }
      expect(await phone.approve(info.challengeId, phone.approvalBody(info, number, '000000'))).toMatchObject({ status: 423, body: { error: 'device_locked' } });
      expect(await phone.approve(info.challengeId, phone.approvalBody(info, number))).toMatchObject({ status: 423, body: { error: 'device_locked' } });
      expect((await phone.open(link)).status).toBe(423);
      // Enrolled again, the phone works.
      const again = new Phone(kapu.url);
      expect((await again.enroll(await enrollmentLink(account.id))).status).toBe(201);
      const next = await waitingPage();
      const nextInfo = await opened(again, next.link);
      expect((await again.approve(nextInfo.challengeId, again.approvalBody(nextInfo, next.number))).status).toBe(200);
    });

    test('a right PIN starts the count again', async () => {
      const { phone } = await withPhone();
      for (let round = 0; round < 2; round += 1) {
        const { link, number } = await waitingPage();
        const info = await opened(phone, link);
        for (let i = 0; i < 4; i += 1) expect((await phone.approve(info.challengeId, phone.approvalBody(info, number, '111111'))).status).toBe(401);
        expect((await phone.approve(info.challengeId, phone.approvalBody(info, number))).status).toBe(200);
      }
    });

    test('a wrong number refuses the challenge (no second guess), and the waiting page says so', async () => {
      const { phone } = await withPhone();
      const { page, browser, link, number } = await waitingPage();
      const info = await opened(phone, link);
      const wrong = info.numbers.find((n) => n !== number)!;
      expect(await phone.approve(info.challengeId, phone.approvalBody(info, wrong))).toMatchObject({ status: 403, body: { error: 'wrong_number' } });
      expect(await phone.approve(info.challengeId, phone.approvalBody(info, number))).toMatchObject({ status: 409 });
      const refused = await pressContinue(browser, page);
      expect(refused.status).toBe(401);
      expect(refused.text('#notice')).toContain('elutasították');
    });

    test('the citizen refuses on the phone: the browser is told', async () => {
      const { phone } = await withPhone();
      const { page, browser, link } = await waitingPage();
      expect(await phone.refuse(await opened(phone, link))).toMatchObject({ status: 200, body: { status: 'refused' } });
      expect((await browser.go(page.url)).text('#notice')).toContain('elutasították');
    });

    test('a challenge lives two minutes; an expired one says so, and a new QR code can be asked for', async () => {
      const { phone } = await withPhone();
      const { page, browser, link, number } = await waitingPage();
      const info = await opened(phone, link);
      kapu.clock.advance(121);
      expect(await phone.approve(info.challengeId, phone.approvalBody(info, number))).toMatchObject({ status: 410, body: { error: 'challenge_expired' } });
      const expired = await browser.go(page.url);
      expect(expired.text('#notice')).toBe('A kód lejárt. Kérjen új kódot.');
      const fresh = await browser.submit(expired, '/resend');
      expect(shownOn(fresh).link).not.toBe(link);
    });

    test('removing a device stops what it approved at once', async () => {
      const { account, phone } = await withPhone();
      const spare = new Phone(kapu.url);
      expect((await spare.enroll(await enrollmentLink(account.id))).status).toBe(201);
      const { page, browser, link, number } = await waitingPage();
      const info = await opened(phone, link);
      expect((await phone.approve(info.challengeId, phone.approvalBody(info, number))).status).toBe(200);
      await kapu.deps.repos.of(DAP_REPOSITORY).removeDevices(account.id, phone.deviceId!);
      const refused = await pressContinue(browser, page);
      expect(refused.status).toBe(401);
      expect(browser.exitUrl).toBeUndefined();
      expect((await phone.open(link)).status).toBe(404);
    });

    test("the operator's account remove-factor USER dap takes the phone with it: what it approved signs nobody in, and the device API refuses it (issue 15, item 10)", async () => {
      const { account, phone } = await withPhone(['email']);
      const { page, browser, link, number } = await waitingPage();
      const info = await opened(phone, link);
      expect((await phone.approve(info.challengeId, phone.approvalBody(info, number))).status).toBe(200);

      await removeFactor(kapu.deps, account.username, 'dap');

      const refused = await pressContinue(browser, page);
      expect(refused.status).toBe(401);
      expect(browser.exitUrl).toBeUndefined();
      expect(await phone.approve(info.challengeId, phone.approvalBody(info, number))).toMatchObject({ status: 404, body: { error: 'unknown_device' } });
      // A new sign-in with the phone: the phone is no one's any more.
      const next = await waitingPage();
      expect(await phone.open(next.link)).toMatchObject({ status: 404, body: { error: 'unknown_device' } });
      await pressContinue(next.browser, next.page);
      expect(next.browser.exitUrl).toBeUndefined();
      expect(await kapu.deps.repos.factors.kinds(account.id)).toEqual(['email']);
    });

    test('after a password, the app is a second factor of that account only', async () => {
      const { account, phone } = await withPhone();
      const { phone: stranger } = await withPhone();
      const signIn = await beginSignIn(rp);
      const browser = new Browser(kapu.url);
      const chooser = await browser.go(signIn.url);
      const passwordPage = await browser.submit(chooser, '/method', {}, { name: 'method', value: 'email' });
      const choice = await browser.submit(passwordPage, '/password', { username: account.username, password: PASSWORD });
      const page = await browser.submit(choice, '/factor', {}, { name: 'factor', value: 'dap' });
      const { link, number } = shownOn(page);
      expect(await stranger.open(link)).toMatchObject({ status: 403, body: { error: 'wrong_account' } });
      const info = await opened(phone, link);
      expect((await phone.approve(info.challengeId, phone.approvalBody(info, number))).status).toBe(200);
      await pressContinue(browser, page);
      const claims = (await signIn.finish(browser.exitUrl!)).claims()!;
      expect({ acr: claims.acr, amr: claims.amr }).toEqual({ acr: SUBSTANTIAL, amr: ['pwd', 'swk', 'pin', 'mfa'] });
    });
  });

  describe('the API answers bad input with a clear 4xx in JSON', () => {
    test('wrong media type, broken or oversized JSON, missing fields, a private key, an unknown challenge', async () => {
      const phone = new Phone(kapu.url);
      const account = await citizen();
      const link = await enrollmentLink(account.id);
      expect(await phone.call('POST', `${API}/devices`, undefined, { body: 'token=x', type: 'application/x-www-form-urlencoded' })).toMatchObject({ status: 415, body: { error: 'unsupported_media_type' } });
      expect(await phone.call('POST', `${API}/devices`, undefined, { body: '{"token":', type: 'application/json' })).toMatchObject({ status: 400, body: { error: 'invalid_json' } });
      expect(await phone.call('POST', `${API}/devices`, undefined, { body: JSON.stringify({ name: 'x'.repeat(20_000) }), type: 'application/json' })).toMatchObject({ status: 413 });
      expect(await phone.call('POST', `${API}/devices`, [1, 2])).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
      expect(await phone.call('POST', `${API}/devices`, { token: link })).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
      const withPrivate = { ...phone.publicJwk, d: phone.privateKey.export({ format: 'jwk' }).d };
      const token = new URLSearchParams(new URL(link).hash.slice(1)).get('enroll');
      expect(await phone.call('POST', `${API}/devices`, { token, name: 'x', pin: PIN, publicKey: withPrivate, signature: 'x' })).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
      expect(await phone.enroll(link, { pin: '12' })).toMatchObject({ status: 400, body: { error: 'invalid_pin' } });
      expect(await phone.call('GET', `${API}/challenges/not-an-id?device=00000000-0000-0000-0000-000000000000`)).toMatchObject({ status: 404 });
      expect(await phone.call('GET', `${API}/nothing`)).toMatchObject({ status: 404, body: { error: 'not_found' } });
    });

    test('requests are throttled per device (429 with Retry-After)', async () => {
      const { phone } = await withPhone();
      const { link } = await waitingPage();
      let answer = await phone.open(link);
      for (let i = 0; i < 40 && answer.status !== 429; i += 1) answer = await phone.open(link);
      expect(answer).toMatchObject({ status: 429, body: { error: 'throttled' } });
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
      kapu.clock.advance(16 * 60);
    });

    test('failed requests are throttled per address', async () => {
      const phone = new Phone(kapu.url);
      phone.deviceId = '00000000-0000-4000-8000-000000000000';
      let answer = await phone.open('00000000-0000-4000-8000-000000000001');
      for (let i = 0; i < 120 && answer.status !== 429; i += 1) answer = await phone.open('00000000-0000-4000-8000-000000000001');
      expect(answer).toMatchObject({ status: 429, body: { error: 'throttled' } });
      kapu.clock.advance(16 * 60);
    });
  });

  test('the reference app ships under /app/: installable (manifest, service worker), its own files only, no inline script, Hungarian and English', async () => {
    const index = await fetch(new URL('/app/', kapu.url));
    expect(index.status).toBe(200);
    const csp = index.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    const html = await index.text();
    expect(html).toContain('<link rel="manifest" href="/app/manifest.webmanifest">');
    // Every script is a file of its own; every reference stays on kapu.
    expect(html.match(/<script[^>]*>/g)).toEqual(['<script src="/app/app.js" defer>']);
    expect(html).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
    const manifest = (await (await fetch(new URL('/app/manifest.webmanifest', kapu.url))).json()) as { start_url: string; display: string; icons: unknown[] };
    expect(manifest).toMatchObject({ start_url: '/app/', display: 'standalone' });
    const worker = await fetch(new URL('/app/sw.js', kapu.url));
    expect({ status: worker.status, type: worker.headers.get('content-type') }).toEqual({ status: 200, type: 'text/javascript; charset=utf-8' });
    const script = await (await fetch(new URL('/app/app.js', kapu.url))).text();
    expect(script).toContain("generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false");
    expect(script).toMatch(/hu: \{[\s\S]*en: \{/);
    expect((await fetch(new URL('/app', kapu.url), { redirect: 'manual' })).headers.get('location')).toBe('/app/');
  });

  describe('the portal', () => {
    /** Signs a password-only citizen in at the portal. */
    async function portal(username: string): Promise<{ browser: Browser; home: Page }> {
      const browser = new Browser(kapu.url);
      const landing = await browser.go('/account');
      const chooser = await browser.submit(landing, '/account/sign-in');
      const passwordPage = await browser.submit(chooser, '/method', {}, { name: 'method', value: 'legacy' });
      const home = await browser.submit(passwordPage, '/password', { username, password: PASSWORD });
      expect(home.url.pathname).toBe('/account');
      return { browser, home };
    }

    test('"Mobilalkalmazás beállítása": the password again, a QR code and the same link; the phone enrolls; the portal lists it; removal and addition mail the citizen', async () => {
      const account = await citizen();
      const { browser } = await portal(account.username);
      const start = await browser.go('/account/setup/dap');
      expect(start.text('h1')).toBe('Mobilalkalmazás beállítása');
      const wrong = await browser.submit(start, '/account/setup/dap', { password: 'nem ez' });
      expect(wrong.status).toBe(401);
      const setup = await browser.submit(start, '/account/setup/dap', { password: PASSWORD });
      const link = setup.doc.querySelector('#dap-link')!.getAttribute('href')!;
      expect(setup.text('#dap-link code')).toBe(link);
      expect(setup.doc.querySelector('img#dap-qr')?.getAttribute('src')).toMatch(/^data:image\/svg\+xml;base64,/);
      const tooEarly = await browser.submit(setup, setup.url.pathname);
      expect(tooEarly.text('.error')).toContain('még nem jelentkezett');

      const since = mail.received.length;
      const phone = new Phone(kapu.url);
      expect((await phone.enroll(link, { name: 'Anna telefonja' })).status).toBe(201);
      const added = await mail.next((m) => m.to.includes(account.email) && m.subject.includes('új telefon'), since);
      expect(added.text).toContain('Anna telefonja');
      const ready = await browser.go(setup.url);
      expect(ready.visibleText).toContain('beállítása kész');
      const done = await browser.submit(ready, ready.url.pathname);
      expect(done.url.pathname).toBe('/account');
      expect(done.visibleText).toContain('Beállította a DÁP mobilalkalmazást');
      expect(done.visibleText).toContain('DÁP mobilalkalmazás');

      // A second phone, so that removing the first leaves the account its factor.
      expect((await new Phone(kapu.url).enroll(await enrollmentLink(account.id), { name: 'Tartalék' })).status).toBe(201);
      const devices = await browser.go('/account/devices');
      expect(devices.visibleText).toContain('Anna telefonja');
      const removed = await browser.submit(devices, `/${phone.deviceId}/remove`, { password: PASSWORD });
      expect(removed.url.pathname).toBe('/account');
      expect(removed.visibleText).toContain('A telefont eltávolítottuk');
      const gone = await mail.next((m) => m.to.includes(account.email) && m.subject.includes('eltávolítva'), since);
      expect(gone.text).toContain('Anna telefonja');
      expect((await kapu.deps.repos.of(DAP_REPOSITORY).devices(account.id)).map((d) => d.name)).toEqual(['Tartalék']);
    });
  });
});

describe('the DÁP method at a level of its own (ACR_APP)', () => {
  const HIGH = 'http://eidas.europa.eu/LoA/high';
  let kapu: TestKapu;
  let rp: oidc.Configuration;

  beforeAll(async () => {
    kapu = await startTestKapu({ env: { ACR_APP: HIGH } });
    ({ rp } = await kapu.client());
  });
  afterAll(async () => {
    await kapu?.close();
  });

  test('an operator maps the app to LoA high: an RP that asks for high gets it from the app, and never a lower level from another factor', async () => {
    const discovery = (await (await fetch(new URL('/.well-known/openid-configuration', kapu.url))).json()) as { acr_values_supported: string[] };
    expect(discovery.acr_values_supported).toContain(HIGH);
    const account = await kapu.account('magas.szint', ['email']);
    const begun = await kapu.deps.enrollments.begin(account.id, 'dap', 'hu');
    if (!begun.ok) throw new Error('not begun');
    const full = (await kapu.deps.repos.accounts.findById(account.id))!;
    const shown = await kapu.deps.uow.transaction((r) => kapu.deps.enrollments.view(r, full, begun.enrollmentId, 'hu'));
    const phone = new Phone(kapu.url);
    expect((await phone.enroll((shown!.view.data as { link: string }).link)).status).toBe(201);

    const signIn = await beginSignIn(rp, { acr_values: HIGH });
    const browser = new Browser(kapu.url);
    const page = await browser.submit(await browser.go(signIn.url), '/method', {}, { name: 'method', value: 'dap' });
    const info = (await phone.open(page.doc.querySelector('#dap-link')!.getAttribute('href')!)).body;
    expect((await phone.approve(info.challengeId, phone.approvalBody(info, page.text('#dap-number')))).status).toBe(200);
    await browser.submit(page, '/verify');
    const claims = (await signIn.finish(browser.exitUrl!)).claims()!;
    expect({ acr: claims.acr, amr: claims.amr }).toEqual({ acr: HIGH, amr: ['swk', 'pin', 'mfa'] });

    // The same request answered with the authenticator app instead: refused, not "substantial".
    const other = await beginSignIn(rp, { acr_values: HIGH });
    const second = new Browser(kapu.url);
    const withTotp = await kapu.account('magas.totp', ['totp']);
    const passwordPage = await second.submit(await second.go(other.url), '/method', {}, { name: 'method', value: 'totp' });
    const codePage = await second.submit(passwordPage, '/password', { username: withTotp.username, password: PASSWORD });
    toMiddleOfStep(kapu.clock);
    const refused = await second.submit(codePage, '/verify', { code: await appCode(withTotp.totpSecret!, kapu.clock) });
    expect(refused.status).toBe(401);
    expect(refused.text('#notice')).toContain('DÁP mobilalkalmazással');
    expect(second.exitUrl).toBeUndefined();
  });
});
