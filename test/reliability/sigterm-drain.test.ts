/**
 * Issue 16, item 5: SIGTERM under load, on the real process. Citizens sign in all the while;
 * on SIGTERM kapu's /readyz fails first, and a load balancer (played by the test) that sees it
 * stops sending new sign-ins there. kapu goes on serving for its grace period (3 s here), so
 * every sign-in already under way, and a last one sent just after /readyz failed, gets all of
 * its answers: no refused connection, no reset, no 5xx. Then the port closes and the process
 * exits 0. Postgres (the CLI sets up the RP and the citizen beside it).
 */
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Browser } from '../helpers/browser.ts';
import { spawnCli, startServerProcess } from '../helpers/cli-process.ts';
import { PASSWORD, RP_REDIRECT, freshDatabase } from '../helpers/kapu.ts';

const onPostgres = process.env['DATABASE_URL'] ? describe : describe.skip;
const CLIENT_ID = 'rp-leallas';
const USERNAME = 'leallas.lenke';

type Answer = { status: number } | { failed: string };

/** A GET on a connection of its own, as a load balancer's health check makes it. */
function probe(base: string, path: string): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request(new URL(path, base), { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ failed: err.code ?? err.message }));
    req.end();
  });
}

/**
 * One citizen's password sign-in, step by step, up to the redirect back into the provider (the
 * issuer of this process is not the address the test reaches it at). Each step's answer.
 */
async function signIn(base: string): Promise<Answer[]> {
  const browser = new Browser(base);
  const answers: Answer[] = [];
  const step = async (go: () => Promise<{ status: number }>) => {
    try {
      const page = await go();
      answers.push({ status: page.status });
      return page;
    } catch (err) {
      answers.push({ failed: String((err as Error & { cause?: { code?: string } }).cause?.code ?? err) });
      return null;
    }
  };
  const challenge = createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url');
  const auth = `/auth?${new URLSearchParams({ client_id: CLIENT_ID, redirect_uri: RP_REDIRECT, response_type: 'code', scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', state: 'x' })}`;
  const chooser = await step(() => browser.go(auth));
  const passwordPage = chooser && (await step(() => browser.submit(chooser as never, '/method', {}, { name: 'method', value: 'legacy' })));
  // The right password ends the sign-in: its answer sends the browser on (status 0: gone on).
  if (passwordPage) await step(() => browser.submit(passwordPage as never, '/password', { username: USERNAME, password: PASSWORD }));
  return answers;
}

onPostgres('SIGTERM under load (the real process, Postgres)', () => {
  test('readyz fails first, sign-ins under way and a last one all finish during the grace, then the port closes and kapu exits 0', async () => {
    const database = await freshDatabase();
    const dataDir = mkdtempSync(join(tmpdir(), 'kapu-drain-'));
    const env = { DATABASE_URL: database.url!, DATA_DIR: dataDir };
    try {
      // The three processes start together (migrations take turns under their lock).
      const [client, account, server] = await Promise.all([
        spawnCli(['client', 'add', '--id', CLIENT_ID, '--redirect-uri', RP_REDIRECT], env),
        spawnCli(['account', 'add', '--username', USERNAME, '--name', 'Leállás Lenke', '--email', 'lenke@example.hu'], env, `${PASSWORD}\n`),
        startServerProcess({ ...env, SHUTDOWN_GRACE_SECONDS: '3' }),
      ]);
      expect([client.code, account.code]).toEqual([0, 0]);
      let log = '';
      server.child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
      const exited = new Promise<number | null>((resolve) => server.child.on('exit', (code) => resolve(code)));

      // The load balancer: routes sign-ins here until it sees /readyz fail.
      let routing = true;
      const signIns: Array<Promise<Answer[]>> = [];
      let signedIn = 0;
      let warm!: () => void;
      const warmedUp = new Promise<void>((resolve) => (warm = resolve));
      const citizens = Array.from({ length: 4 }, async () => {
        while (routing) {
          const one = signIn(server.url);
          signIns.push(one);
          await one;
          if ((signedIn += 1) === 4) warm();
        }
      });
      await warmedUp;
      expect(await probe(server.url, '/readyz')).toEqual({ status: 200 });

      server.child.kill('SIGTERM');
      let check: Answer;
      do check = await probe(server.url, '/readyz');
      while ('status' in check && check.status === 200);
      routing = false;
      // The first answer after SIGTERM that is not "ready" is 503, not a closed port.
      expect(check).toEqual({ status: 503 });
      // A citizen the load balancer sent here at the last moment still gets in.
      signIns.push(signIn(server.url));
      await Promise.all(citizens);
      const all = await Promise.all(signIns);
      expect(all.filter((answers) => answers.some((a) => !('status' in a) || a.status >= 500 || answers.length !== 3))).toEqual([]);

      expect(await exited).toBe(0);
      expect(await probe(server.url, '/healthz')).toEqual({ failed: 'ECONNREFUSED' });
      // In the log, in this order: the signal, the drain, the port closing.
      const order = ['shutting down', 'draining: /readyz answers 503, still serving until the grace period ends', 'closing the listener: finishing the requests in flight'];
      const lines = log.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { msg: string }).msg);
      expect(lines.filter((m) => order.includes(m))).toEqual(order);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
      await database.drop();
    }
  }, 60_000);
});
