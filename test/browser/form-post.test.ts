/**
 * Issue 9, item 6, in a real browser: the provider's form_post response runs under kapu's CSP
 * (its one script allowed by hash), so the browser posts the code on to the RP by itself, and
 * the browser reports no CSP violation on the way.
 */
import type { Browser } from 'playwright-core';
import { type TestKapu, beginSignIn, startTestKapu } from '../helpers/kapu.ts';
import { describeWithChromium, launchChromium } from '../helpers/chromium.ts';

const RP_ORIGIN = 'https://rp.example.hu';

describeWithChromium('form_post under the CSP', () => {
  let kapu: TestKapu;
  let browser: Browser;
  let rp: Awaited<ReturnType<TestKapu['client']>>['rp'];
  beforeAll(async () => {
    [kapu, browser] = await Promise.all([startTestKapu(), launchChromium()]);
    ({ rp } = await kapu.client());
    await kapu.account('urlap.ursula');
  });
  afterAll(async () => {
    await browser?.close();
    await kapu?.close();
  });

  test('the browser posts the code to the RP by itself, with no CSP violation', async () => {
    const context = await browser.newContext({ locale: 'hu-HU' });
    try {
      const posted: Array<{ method: string; body: string | null }> = [];
      await context.route(`${RP_ORIGIN}/**`, (route) => {
        posted.push({ method: route.request().method(), body: route.request().postData() });
        return route.fulfill({ status: 200, contentType: 'text/plain', body: 'rp callback' });
      });
      const page = await context.newPage();
      const violations: string[] = [];
      page.on('console', (message) => {
        if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
      });
      await page.goto((await beginSignIn(rp, { response_mode: 'form_post' })).url.href);
      await page.getByRole('button', { name: 'Ügyfélkapuval', exact: true }).click();
      await page.getByLabel('Felhasználónév', { exact: true }).fill('urlap.ursula');
      await page.getByLabel('Jelszó', { exact: true }).fill('correct horse battery');
      await page.getByRole('button', { name: 'Bejelentkezés', exact: true }).click();
      await page.waitForURL((url) => url.origin === RP_ORIGIN);
      expect(posted).toEqual([{ method: 'POST', body: expect.stringMatching(/(^|&)code=[^&]+/) }]);
      expect(violations).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
