/**
 * The mail a citizen gets when the account signs in from a browser kapu has not seen for it
 * (NEW_BROWSER_MAIL), asked of the sign-in core on a real database: what it says, in which
 * language, and what it costs a sign-in — one outbox row in the finishing unit of work for a
 * new browser, nothing at all for a known one.
 */
import type { Outcome } from '../../src/auth/outcomes.ts';
import { SignInService } from '../../src/auth/sign-in.ts';
import type { Who } from '../../src/auth/who.ts';
import { type CoreHarness, FROM, startCore } from '../helpers/core.ts';
import { PASSWORD } from '../helpers/kapu.ts';

const SUBJECT = { hu: 'Ügyfélkapu+ – bejelentkezés új böngészőből', en: 'Ügyfélkapu+ – sign-in from a new browser' };

describe('the new-browser mail', () => {
  let core: CoreHarness;
  /** The same core with the mail switched off (NEW_BROWSER_MAIL=false), to compare costs with. */
  let off: SignInService;
  beforeAll(async () => {
    core = await startCore({ env: { NEW_BROWSER_MAIL: 'true' } });
    const { uow, factors, passwords, throttle, acr, clients, enrollments, portalSessions, clock, random, mailer } = core.deps;
    off = new SignInService({ uow, factors, passwords, throttle, acr, clients, enrollments, portalSessions, clock, random, mailer, newBrowserMail: false });
  });
  afterAll(async () => {
    await core?.close();
  });

  /** A password-only sign-in at the test RP; what its last step (the one that finishes) cost. */
  async function signIn(service: SignInService, username: string, who: Who) {
    const uid = await core.interaction();
    expect((await service.chooseMethod(uid, who, 'legacy')).kind).toBe('advanced');
    const stats = core.deps.dbStats;
    const before = { statements: stats.statements, transactions: stats.transactions };
    const outcome: Outcome = await service.password(uid, who, { username, password: PASSWORD });
    expect(outcome.kind).toBe('finished');
    return { statements: stats.statements - before.statements, transactions: stats.transactions - before.transactions };
  }

  /** Mails delivered since the last look, oldest first. */
  async function newMails(seen: number) {
    const all = await core.deliver();
    return all.slice(0, all.length - seen).reverse();
  }

  test('a sign-in from a new browser mails when, where, which browser and network, and what to do if it was not the citizen', async () => {
    const account = await core.account('uj.bongeszo');
    const seen = (await core.deliver()).length;
    await signIn(core.deps.signIns, account.username, FROM);
    const mails = await newMails(seen);
    expect(mails.map((m) => ({ to: m.to, subject: m.subject }))).toEqual([{ to: account.email, subject: SUBJECT.hu }]);
    const lines = mails[0]!.text.split('\n');
    const when = new Intl.DateTimeFormat('hu-HU', { dateStyle: 'long', timeStyle: 'short', timeZone: 'Europe/Budapest' }).format(core.clock.now());
    expect(lines).toEqual(
      expect.arrayContaining([
        'Olyan böngészőből jelentkeztek be az Ügyfélkapu+ fiókjába, amelyből korábban még nem.',
        'Szolgáltatás: Teszt szolgáltatás',
        `Bejelentkezés időpontja: ${when} (magyar idő)`,
        'Böngésző: Firefox 133, Linux',
        // No location database: the network, as the phone app names it.
        'Hálózat: 192.0.2.0/24',
        'Ha Ön volt, nincs teendője. Ha nem Ön volt, valaki hozzáférhet a fiókjához: azonnal állítson be új jelszót az „Elfelejtett jelszó” oldalon (https://kapu.example.hu/account/reset) – ezzel a fiók minden eszközön kijelentkezik –, és forduljon az ügyfélszolgálathoz.',
      ]),
    );
  });

  test('it is written in the language of the pages the citizen signed in on', async () => {
    const account = await core.account('angol.bongeszo');
    const seen = (await core.deliver()).length;
    await signIn(core.deps.signIns, account.username, { ...FROM, lang: 'en', ip: '2001:db8:85a3:8d3::7' });
    const [mail] = await newMails(seen);
    expect(mail!.subject).toBe(SUBJECT.en);
    expect(mail!.text.split('\n')).toEqual(expect.arrayContaining(['Service: Teszt szolgáltatás', 'Network: 2001:db8:85a3::/48']));
  });

  test('a browser that signed in to the account before gets none, and its sign-in costs what it costs with the mail off', async () => {
    const account = await core.account('ismert.bongeszo');
    const known: Who = { ...FROM, device: { accountId: account.id, id: 'a-known-browser-of-this-account' } };
    // The first sign-in also reads the RP into the client directory: not counted below.
    await signIn(off, account.username, known);
    const seen = (await core.deliver()).length;
    const withMail = await signIn(core.deps.signIns, account.username, known);
    const withoutMail = await signIn(off, account.username, known);
    expect(withMail).toEqual(withoutMail);
    expect(await newMails(seen)).toEqual([]);
  });

  test('a new browser costs no statement more — the outbox row is written by the statement that finishes the sign-in — and a browser of another account is new', async () => {
    const account = await core.account('masik.fiok.bongeszoje');
    const other: Who = { ...FROM, device: { accountId: '00000000-0000-4000-8000-000000000000', id: 'a-browser-of-someone-else' } };
    await signIn(off, account.username, other);
    const seen = (await core.deliver()).length;
    const withMail = await signIn(core.deps.signIns, account.username, other);
    const withoutMail = await signIn(off, account.username, other);
    expect(withMail).toEqual(withoutMail);
    expect((await newMails(seen)).map((m) => m.subject)).toEqual([SUBJECT.hu]);
  });
});
