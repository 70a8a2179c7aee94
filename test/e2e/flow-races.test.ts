/**
 * One sign-in, two accounts: a sign-in belongs to the account whose password won it, and a code
 * mailed to any other account never finishes it (SPEC §3: a code is bound to one interaction
 * and one account).
 */
import { typedProof } from '../helpers/core.ts';
import type { FactorContext, Verification } from '../../src/factors/factor.ts';
import { Browser } from '../helpers/browser.ts';
import { type TestKapu, PASSWORD, beginSignIn, startTestKapu } from '../helpers/kapu.ts';
import { MailSink, readCodeMail } from '../helpers/mail-sink.ts';

describe('racing sign-in steps', () => {
  let kapu: TestKapu;
  let mail: MailSink;
  beforeAll(async () => {
    mail = await new MailSink().start();
    kapu = await startTestKapu({ env: { SMTP_URL: mail.url } });
  });
  afterAll(async () => {
    await kapu?.close();
    await mail?.stop();
  });

  test('two passwords posted at once in one sign-in: one account wins, and only it gets a code', async () => {
    const { rp } = await kapu.client();
    await kapu.account('aldozat.anna', ['email']);
    await kapu.account('tamado.tamas', ['email']);
    const browser = new Browser(kapu.url);
    const chooser = await browser.go((await beginSignIn(rp)).url);
    const passwordPage = await browser.submit(chooser, '/method', {}, { name: 'method', value: 'email' });
    const csrf = passwordPage.value('input[name=csrf]')!;
    const path = new URL(passwordPage.form('/password').getAttribute('action')!, kapu.url).pathname;
    const since = mail.received.length;

    const answers = await Promise.all(
      ['aldozat.anna', 'tamado.tamas'].map((username) =>
        browser.post(path, new URLSearchParams({ csrf, username, password: PASSWORD }).toString()),
      ),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([303, 409]);
    await Promise.all(answers.map((a) => a.text()));

    const page = await browser.go(new URL(passwordPage.url.pathname, kapu.url));
    const winner = page.value('#username')!;
    const loser = winner === 'aldozat.anna' ? 'tamado.tamas' : 'aldozat.anna';
    const codeMail = await mail.next((m) => m.to.includes(winner), since);
    expect(page.value('#tag')).toBe(readCodeMail(codeMail).tag);
    // The loser's request never started a factor: no code went to the other account.
    expect(mail.received.slice(since).some((m) => m.to.includes(loser))).toBe(false);
  });

  test('a code mailed to one account is worthless for another account in the same sign-in', async () => {
    const victim = await kapu.account('masik.maria', ['email']);
    const attacker = await kapu.account('harmadik.henrik', ['email']);
    const emailFactor = typedProof(kapu.deps.factors.get('email'));
    const flowId = 'one-interaction';
    const accountOf = async (id: string) => (await kapu.deps.repos.accounts.findById(id))!;
    const since = mail.received.length;
    const { uow } = kapu.deps;
    const as = async (accountId: string, act: (ctx: FactorContext) => Promise<unknown>) => {
      const account = await accountOf(accountId);
      return uow.transaction((repos) => act({ flowId, account, lang: 'hu', repos }));
    };
    await as(attacker.id, (ctx) => emailFactor.begin(ctx));
    const { code } = readCodeMail(await mail.next((m) => m.to.includes('harmadik.henrik'), since));

    const asVictim = (await as(victim.id, (ctx) => emailFactor.verify(ctx, { code }))) as Verification;
    expect(asVictim.ok).toBe(false);
    const asAttacker = (await as(attacker.id, (ctx) => emailFactor.verify(ctx, { code }))) as Verification;
    expect(asAttacker.ok).toBe(true);
  });
});
