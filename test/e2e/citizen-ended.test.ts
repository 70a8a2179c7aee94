/**
 * No dead ends after a sign-in is over: Back after signing in, Back after cancelling, a sign-in
 * left too long, an unknown page. Each says in plain words what happened and offers a way on;
 * technical codes only inside a folded "details for the helpdesk", in both languages.
 */
import { Browser, type Page } from '../helpers/browser.ts';
import { type TestKapu, beginSignIn, startTestKapu } from '../helpers/kapu.ts';

type Rp = Awaited<ReturnType<TestKapu['client']>>['rp'];

const SERVICE = 'Minta Ügyintézés';
const HOME = 'https://rp.example.hu/bye';
const SAYS = {
  hu: {
    done: ['Ön már bejelentkezett', `A bejelentkezés ide: ${SERVICE} sikeresen befejeződött.`],
    cancelled: ['A bejelentkezést megszakította', `Megszakította a bejelentkezést ide: ${SERVICE}.`],
    expired: ['A bejelentkezés lejárt', `A bejelentkezés ide: ${SERVICE} túl sokáig várt`],
    back: `Vissza ide: ${SERVICE}`,
    details: 'Részletek az ügyfélszolgálatnak',
    unknown: 'Hiba történt',
    portal: 'Bejelentkezés az Ügyfélkapu+ fiókjába',
  },
  en: {
    done: ['You are already signed in', `Your sign-in to ${SERVICE} is complete.`],
    cancelled: ['You cancelled the sign\u2011in', `You cancelled signing in to ${SERVICE}.`],
    expired: ['The sign\u2011in has expired', `The sign-in to ${SERVICE} waited too long`],
    back: `Back to ${SERVICE}`,
    details: 'Details for the helpdesk',
    unknown: 'Something went wrong',
    portal: 'Sign in to your Ügyfélkapu+ account',
  },
} as const;

/** What the citizen reads without opening the helpdesk details. */
function plainText(page: Page): string {
  const main = page.doc.querySelector('main')!.clone() as typeof page.doc;
  for (const details of main.querySelectorAll('details')) details.remove();
  return main.text.replace(/\s+/g, ' ').trim();
}

function link(page: Page, text: string): string | undefined {
  return page.doc.querySelectorAll('main a').find((a) => a.text.trim() === text)?.getAttribute('href');
}

describe.each(['hu', 'en'] as const)('pages of a sign-in that is over (%s)', (lang) => {
  let kapu: TestKapu;
  let rp: Rp;
  let accounts = 0;
  const says = SAYS[lang];

  beforeAll(async () => {
    kapu = await startTestKapu();
    ({ rp } = await kapu.client({ clientName: SERVICE }));
  });
  afterAll(() => kapu?.close());

  async function atPassword() {
    accounts += 1;
    const { username } = await kapu.account(`${lang}.vege.${accounts}`);
    const browser = new Browser(kapu.url, { 'accept-language': lang });
    const chooser = await browser.go((await beginSignIn(rp)).url);
    const passwordPage = await browser.submit(chooser, '/method', {}, { name: 'method', value: 'legacy' });
    return { browser, username, passwordPage };
  }

  function expectExplained(page: Page, [title, first]: readonly [string, string]) {
    expect(page.text('h1')).toBe(title);
    expect(plainText(page)).toContain(first);
    expect(link(page, says.back)).toBe(HOME);
    // The code is there for the helpdesk, folded away; the words around it are the citizen's language.
    expect(plainText(page)).not.toMatch(/session_expired|invalid_request|Hibakód|Error code/);
    expect(page.text('details summary')).toBe(says.details);
    expect(page.text('details')).toContain('session_expired');
  }

  test('Back after signing in: the page says the sign-in is complete and links back to the service', async () => {
    const { browser, username, passwordPage } = await atPassword();
    await browser.submit(passwordPage, '/password', { username, password: 'correct horse battery' });
    expect(browser.exitUrl?.searchParams.get('code')).toBeTruthy();

    const back = await browser.go(passwordPage.url);
    expect(back.status).toBe(200);
    expectExplained(back, says.done);
  });

  test('Back after cancelling: the page says the citizen cancelled and links back to the service', async () => {
    const { browser, passwordPage } = await atPassword();
    await browser.submit(passwordPage, '/abort');
    expect(browser.exitUrl?.searchParams.get('error')).toBe('access_denied');

    const back = await browser.go(passwordPage.url);
    expect(back.status).toBe(200);
    expectExplained(back, says.cancelled);
  });

  test('a sign-in left too long: the page says it expired and links back to the service', async () => {
    const { browser, username, passwordPage } = await atPassword();
    kapu.clock.advance(2 * 3600);
    const late = await browser.submit(passwordPage, '/password', { username, password: 'correct horse battery' });
    expect(late.status).toBe(400);
    expectExplained(late, says.expired);
  });

  test('a sign-in page this browser never had: a general message, a way to sign in, the code folded away', async () => {
    const stranger = new Browser(kapu.url, { 'accept-language': lang });
    const page = await stranger.go('/interaction/no-such-sign-in');
    expect(page.status).toBe(400);
    expect(page.text('h1')).toBe(says.unknown);
    expect(link(page, says.portal)).toBe('/account');
    expect(plainText(page)).not.toMatch(/session_expired|Hibakód|Error code/);
    expect(page.text('details')).toContain('session_expired');
  });
});
