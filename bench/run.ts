/**
 * `npm run bench`: how fast kapu signs citizens in, on this machine, with real parts: a kapu
 * server on port 0, an openid-client RP, the test browser, the SMTP sink for emailed codes.
 * Prints latency percentiles, throughput and memory. Bounded in count; talks to 127.0.0.1 only.
 *
 *   BENCH_SIGNINS=200 BENCH_CONCURRENCY=8 npm run bench
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench
 */
import { performance } from 'node:perf_hooks';
import { Browser } from '../test/helpers/browser.ts';
import { MailSink, readCodeMail } from '../test/helpers/mail-sink.ts';
import { PASSWORD, beginSignIn, signInWithPassword, startTestKapu } from '../test/helpers/kapu.ts';

const SIGNINS = Number(process.env['BENCH_SIGNINS'] ?? 100);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 4);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measure(name: string, count: number, concurrency: number, one: (i: number) => Promise<void>) {
  const times: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < count; i = next++) {
        const t0 = performance.now();
        await one(i);
        times.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  times.sort((a, b) => a - b);
  const row = {
    scenario: name,
    n: count,
    concurrency,
    'p50 ms': Math.round(percentile(times, 50)),
    'p95 ms': Math.round(percentile(times, 95)),
    'max ms': Math.round(times.at(-1)!),
    'per s': Number((count / seconds).toFixed(1)),
  };
  return row;
}

const mail = await new MailSink().start();
const kapu = await startTestKapu({ env: { SMTP_URL: mail.url, CODE_MAX_PER_HOUR: '30' } });
try {
  const { rp } = await kapu.client();
  const users = Array.from({ length: SIGNINS }, (_, i) => `bench${i}`);
  for (const u of users) await kapu.account(u, ['email']);
  const rssBefore = process.memoryUsage().rss;
  const rows = [];

  rows.push(
    await measure('password only (legacy), full OIDC round trip', SIGNINS, CONCURRENCY, async (i) => {
      const browser = new Browser(kapu.url);
      const signIn = await beginSignIn(rp);
      await signInWithPassword(browser, signIn.url, 'legacy', users[i]!, PASSWORD);
      await signIn.finish(browser.exitUrl!);
    }),
  );

  rows.push(
    await measure('password + emailed code via SMTP, full OIDC round trip', SIGNINS, CONCURRENCY, async (i) => {
      const browser = new Browser(kapu.url);
      const signIn = await beginSignIn(rp);
      const to = `${users[i]}@example.hu`;
      const since = mail.received.length;
      const page = await signInWithPassword(browser, signIn.url, 'email', users[i]!, PASSWORD);
      const { code } = readCodeMail(await mail.next((m) => m.to.includes(to), since));
      await browser.submit(page, '/verify', { code });
      await signIn.finish(browser.exitUrl!);
    }),
  );

  console.log(`kapu bench — database: ${process.env['DATABASE_URL'] ? 'postgres' : 'pglite (in memory)'}, node ${process.version}`);
  console.table(rows);
  const rss = process.memoryUsage().rss;
  console.log(`RSS: ${(rssBefore / 2 ** 20).toFixed(0)} MiB before, ${(rss / 2 ** 20).toFixed(0)} MiB after (kapu, RP and SMTP sink in one process)`);
} finally {
  await kapu.close();
  await mail.stop();
}
