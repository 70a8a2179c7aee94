import request from 'supertest';
import { Browser } from '../helpers/browser.ts';
import { type TestKapu, beginSignIn, signInWithPassword, startTestKapu } from '../helpers/kapu.ts';

/** What an operator scrapes: Prometheus text with sign-in outcomes and request latency. */
describe('operations endpoints', () => {
  let kapu: TestKapu;
  beforeAll(async () => {
    kapu = await startTestKapu();
  });
  afterAll(async () => {
    await kapu?.close();
  });

  function counter(metrics: string, name: string, labels: string): number {
    const line = metrics.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
    return line ? Number(line.split(' ').at(-1)) : 0;
  }

  test('/metrics counts sign-ins by method and outcome, and request latency by route', async () => {
    const { rp } = await kapu.client();
    await kapu.account('metrika.mari');
    const before = await kapu.scrape();

    const failed = new Browser(kapu.url);
    await signInWithPassword(failed, (await beginSignIn(rp)).url, 'legacy', 'metrika.mari', 'wrong password');
    const ok = new Browser(kapu.url);
    await signInWithPassword(ok, (await beginSignIn(rp)).url, 'legacy', 'metrika.mari');
    expect(ok.exitUrl).toBeDefined();

    const after = await request(kapu.metrics!).get('/metrics').expect(200).expect('Content-Type', /text\/plain/);
    const success = 'method="password",outcome="success"';
    const failure = 'method="password",outcome="failure"';
    expect(counter(after.text, 'kapu_signins_total', success) - counter(before, 'kapu_signins_total', success)).toBe(1);
    expect(counter(after.text, 'kapu_signins_total', failure) - counter(before, 'kapu_signins_total', failure)).toBe(1);
    // The refused form is answered by a redirect, and the step's page says why with the status (post/redirect/get).
    expect(after.text).toMatch(/kapu_http_request_duration_seconds_count\{method="POST",route="\/interaction\/:uid",status="303"\} [1-9]/);
    expect(after.text).toMatch(/kapu_http_request_duration_seconds_count\{method="GET",route="\/interaction\/:uid",status="401"\} [1-9]/);
    // Interaction ids never become label values: they would make the series unbounded.
    expect(after.text).not.toMatch(/route="\/interaction\/[A-Za-z0-9_-]{20,}/);
    expect(after.text).toMatch(/^kapu_mail_outbox_pending 0$/m);
  });

  test('/healthz and /readyz answer for the load balancer, uncached, with a request id', async () => {
    const health = await request(kapu.server).get('/healthz').expect(200).expect('Cache-Control', 'no-store');
    expect(health.body).toEqual({ status: 'ok' });
    expect(health.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const ready = await request(kapu.server).get('/readyz').set('X-Request-Id', 'lb-1234').expect(200);
    expect(ready.body).toEqual({ status: 'ready', database: 'ok', mail: 'ok' });
    expect(ready.headers['x-request-id']).toBe('lb-1234');
  });
});
