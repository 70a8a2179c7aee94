/**
 * Issue 16, item 5: a replica told to stop drains. /readyz answers 503 at once, so the load
 * balancer stops sending; for the grace period kapu still accepts and serves everything else
 * (a sign-in goes on, new connections too); then it closes its port, and a request in flight
 * at that moment still gets its whole answer. The test holds the grace open and ends it itself
 * (a second stop, as a second SIGTERM would), so no real seconds are waited.
 */
import { request } from 'node:http';
import { Browser } from '../helpers/browser.ts';
import { type TestKapu, PASSWORD, beginSignIn, startTestKapu } from '../helpers/kapu.ts';

/** A GET on a connection of its own (no keep-alive): what a load balancer's new connection sees. */
function freshGet(base: string, path: string): Promise<{ status: number } | { refused: string }> {
  return new Promise((resolve) => {
    const req = request(new URL(path, base), { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ refused: err.code ?? err.message }));
    req.end();
  });
}

describe('stopping with a grace period', () => {
  let kapu: TestKapu;
  beforeAll(async () => {
    kapu = await startTestKapu();
  });
  afterAll(async () => {
    await kapu?.close();
  });

  test('/readyz fails first while everything else is still served; then the port closes and the request in flight finishes', async () => {
    const { rp } = await kapu.client();
    await kapu.account('tavozo.tamas');
    const browser = new Browser(kapu.url);
    const signIn = await beginSignIn(rp);
    const chooser = await browser.go(signIn.url);

    let stoppedAll = false;
    const stopped = kapu.stop({ graceMs: 10 * 60_000 }).then(() => (stoppedAll = true));
    expect(await freshGet(kapu.url, '/readyz')).toEqual({ status: 503 });
    expect(await freshGet(kapu.url, '/healthz')).toEqual({ status: 200 });
    expect(await freshGet(kapu.url, '/.well-known/openid-configuration')).toEqual({ status: 200 });
    // The sign-in in progress goes on during the grace.
    const passwordPage = await browser.submit(chooser, '/method', {}, { name: 'method', value: 'legacy' });
    expect(passwordPage.hasForm('/password')).toBe(true);
    expect(stoppedAll).toBe(false);

    // The grace ends while the password is being checked: that request still gets its answer
    // (where it leads next, another replica serves).
    const received = new Promise<void>((resolve) => kapu.server.once('request', () => resolve()));
    const form = new URLSearchParams({ csrf: passwordPage.value('input[name=csrf]')!, username: 'tavozo.tamas', password: PASSWORD });
    const inFlight = browser.post(`${passwordPage.url.pathname}/password`, form.toString());
    await received;
    const ending = kapu.stop();
    const answer = await inFlight;
    expect({ status: answer.status, location: answer.headers.get('location') }).toEqual({ status: 303, location: expect.stringMatching(/\/auth\//) });
    await Promise.all([ending, stopped]);
    expect(await freshGet(kapu.url, '/healthz')).toEqual({ refused: 'ECONNREFUSED' });
  });
});
