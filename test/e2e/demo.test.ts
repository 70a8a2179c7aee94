/**
 * The demo RP (development only) as a newcomer meets it: a site of its own (name, colours),
 * a cancelled sign-in or an unreachable level explained in words, and the demo citizen's
 * authenticator app as a QR code — in Hungarian and English.
 */
import QRCode from 'qrcode';
import { Browser, type Page } from '../helpers/browser.ts';
import { type TestKapu, startTestKapu } from '../helpers/kapu.ts';
import { seedDemo } from '../../src/demo/seed.ts';

const SAYS = {
  hu: {
    site: 'Minta Hivatal – e\u2011ügyintézés',
    cancelled: 'Nem jelentkezett be',
    cancelledBody: 'A bejelentkezést megszakította a kapu oldalán',
    level: 'Ehhez Ügyfélkapu+ kell',
    totp: 'A minta polgár hitelesítő alkalmazása',
    service: 'Bejelentkezés ide: Minta Hivatal',
  },
  en: {
    site: 'Minta Hivatal – online services',
    cancelled: 'You did not sign in',
    cancelledBody: "You cancelled the sign-in on kapu's page",
    level: 'This needs Ügyfélkapu+',
    totp: "The demo citizen's authenticator app",
    service: 'Sign in to Minta Hivatal',
  },
} as const;

const visible = (page: Page) => page.visibleText;

describe.each(['hu', 'en'] as const)('the demo RP (%s)', (lang) => {
  let kapu: TestKapu;
  let totpUri: string | null;
  const says = SAYS[lang];

  beforeAll(async () => {
    kapu = await startTestKapu({ env: { NODE_ENV: 'development', DEMO: 'true' } });
    ({ appUri: totpUri } = await seedDemo(kapu.deps, kapu.provider));
  });
  afterAll(() => kapu?.close());

  const browser = () => new Browser(kapu.url, { 'accept-language': lang });

  test('looks like a service of its own, not like kapu', async () => {
    const demo = await browser().go('/demo');
    expect(demo.text('.brand')).toBe(says.site);
    expect(demo.doc.querySelector('body')?.getAttribute('class')).toBe('demo-site');
    const chooser = await browser().go('/demo/login');
    expect(chooser.text('.brand')).toBe('Ügyfélkapu+');
    expect(visible(chooser)).toContain(says.service);
  });

  test('a cancelled sign-in comes back explained in words, the code folded away', async () => {
    const citizen = browser();
    const chooser = await citizen.go('/demo/login');
    // The demo RP is served by kapu itself: the browser follows kapu's answer right to its callback.
    const back = await citizen.submit(chooser, '/abort');
    expect(back.url.pathname).toBe('/demo/callback');
    expect(back.text('[role="status"] strong')).toBe(says.cancelled);
    expect(visible(back)).toContain(says.cancelledBody);
    expect(visible(back)).not.toContain('authorization response from the server is an error');
    expect(back.text('details')).toContain('access_denied');
  });

  test('an unreachable level comes back explained too', async () => {
    const back = await browser().go('/demo/callback?error=unmet_authentication_requirements&error_description=the+account+has+no+second+factor');
    expect(back.text('[role="status"] strong')).toBe(says.level);
  });

  test("in development, /demo shows the demo citizen's TOTP as a QR code that reads back as the seeded secret", async () => {
    const demo = await browser().go('/demo');
    expect(demo.text('#demo-app')).toBe(says.totp);
    const img = demo.doc.querySelector('section[aria-labelledby="demo-app"] img')!;
    // The same QR code (SVG, drawn by kapu) as the seeded otpauth:// URI gives, and the URI in words.
    const svg = await QRCode.toString(totpUri!, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    expect(img.getAttribute('src')).toBe(`data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`);
    expect(demo.text('section[aria-labelledby="demo-app"] code')).toBe(totpUri);
  });
});

describe('the demo outside development', () => {
  test('shows no TOTP QR code', async () => {
    const kapu = await startTestKapu({ env: { DEMO: 'true' } });
    try {
      await seedDemo(kapu.deps, kapu.provider);
      const demo = await new Browser(kapu.url).go('/demo');
      expect(demo.doc.querySelector('#demo-app')).toBeNull();
      expect(demo.html).not.toContain('otpauth');
    } finally {
      await kapu.close();
    }
  });
});
