/**
 * Database round trips of a whole sign-in, from the RP's redirect to /auth to the token
 * response and userinfo, counted where kapu sends them (src/db/instrumented-dialect.ts):
 * transactions as pg_stat_database counts them (a statement on its own is one, BEGIN … COMMIT
 * is one) and every statement sent, BEGIN and COMMIT included. The limits pin today's counts
 * (the run's first sign-in also reads the RP into the client directory: one statement more),
 * so that a change that adds work shows here first. Issue 20 asks for at most 12
 * statements (password only: 11, 12 with the RP's first read, and no BEGIN … COMMIT at all) and
 * 22 (emailed code: 21); the README's Performance section says what is left.
 */
import * as oidc from 'openid-client';
import { Browser } from '../helpers/browser.ts';
import { type TestKapu, PASSWORD, beginSignIn, signInWithPassword, startTestKapu } from '../helpers/kapu.ts';
import { MailSink, readCodeMail } from '../helpers/mail-sink.ts';

const LIMITS = {
  password: { transactions: 11, statements: 11 },
  email: { transactions: 17, statements: 21 },
};

describe('database round trips of a full sign-in', () => {
  /** The run's first sign-in also reads the RP into the replica's client directory: one statement more, once. */
  let directoryRead = 1;
  let kapu: TestKapu;
  let mail: MailSink;
  let rp: oidc.Configuration;
  beforeAll(async () => {
    mail = await new MailSink().start();
    // The mail sender wakes when mail is queued; no polling adds statements while counting.
    kapu = await startTestKapu({ env: { SMTP_URL: mail.url }, overrides: { mailPollMs: 3_600_000 } });
    ({ rp } = await kapu.client());
    await kapu.account('szamolt.szilvia', ['email']);
    await kapu.account('szamolt.sandor');
  });
  afterAll(async () => {
    await kapu?.close();
    await mail?.stop();
  });

  /** One sign-in, RP redirect to userinfo; what it cost the database. */
  async function counted(method: string, username: string) {
    const stats = kapu.deps.dbStats;
    const before = { transactions: stats.transactions, statements: stats.statements };
    const browser = new Browser(kapu.url);
    const signIn = await beginSignIn(rp);
    const since = mail.received.length;
    const page = await signInWithPassword(browser, signIn.url, method, username, PASSWORD);
    if (method === 'email') {
      const { code } = readCodeMail(await mail.next((m) => m.to.includes(username), since));
      await browser.submit(page, '/verify', { code });
    }
    const tokens = await signIn.finish(browser.exitUrl!);
    const userinfo = await oidc.fetchUserInfo(rp, tokens.access_token, tokens.claims()!.sub);
    expect(userinfo.preferred_username).toBe(username);
    return { transactions: stats.transactions - before.transactions, statements: stats.statements - before.statements };
  }

  test.each([
    ['password only', 'legacy', 'szamolt.sandor', LIMITS.password],
    ['password + emailed code (its mail delivered over SMTP included)', 'email', 'szamolt.szilvia', LIMITS.email],
  ])('%s', async (_name, method, username, limits) => {
    for (let i = 0; i < 2; i += 1) {
      const cost = await counted(method, username);
      expect(cost.transactions).toBeLessThanOrEqual(limits.transactions + directoryRead);
      expect(cost.statements).toBeLessThanOrEqual(limits.statements + directoryRead);
      directoryRead = 0;
    }
  });
});
