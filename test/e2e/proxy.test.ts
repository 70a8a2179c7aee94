/**
 * Behind the load balancer (TRUST_PROXY=true): the client address is the one the balancer
 * added to X-Forwarded-For, never an entry the client wrote itself, so the per-IP throttle and
 * the audit log cannot be fooled by a forged header.
 */
import { Browser } from '../helpers/browser.ts';
import { type TestKapu, beginSignIn, startTestKapu } from '../helpers/kapu.ts';

describe('behind a trusted proxy', () => {
  let kapu: TestKapu;
  beforeAll(async () => {
    kapu = await startTestKapu({ env: { TRUST_PROXY: 'true', PROXY_HOPS: '1' } });
  });
  afterAll(async () => {
    await kapu?.close();
  });

  test('a client-forged X-Forwarded-For entry is ignored: the audit log has the address the balancer saw', async () => {
    const { rp } = await kapu.client();
    const account = await kapu.account('proxy.piroska');
    const browser = new Browser(kapu.url);
    const chooser = await browser.go((await beginSignIn(rp)).url);
    const passwordPage = await browser.submit(chooser, '/method', {}, { name: 'method', value: 'legacy' });
    const action = new URL(passwordPage.form('/password').getAttribute('action')!, kapu.url);
    const body = new URLSearchParams({ csrf: passwordPage.value('input[name=csrf]')!, username: 'proxy.piroska', password: 'wrong password' });
    // The client claims 203.0.113.66; the balancer appends the address it really saw.
    const refused = await browser.go(action, {
      method: 'POST',
      body: body.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '203.0.113.66, 198.51.100.7', 'x-forwarded-proto': 'https' },
    });
    expect(refused.status).toBe(401);
    const [event] = await kapu.deps.repos.audit.list({ accountId: account.id, type: 'signin.password_failed', limit: 1 });
    expect(event?.ip).toBe('198.51.100.7');
  });
});
