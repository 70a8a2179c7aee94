/** A browser named in a few words for sign-in lists and mails, never the raw User-Agent header. */
import { browserOf } from '../../src/http/browser.ts';

const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
const SAFARI_IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';

test('a known browser is its name, major version and system', () => {
  expect(browserOf(FIREFOX_LINUX)).toBe('Firefox 133, Linux');
  expect(browserOf(SAFARI_IPHONE)).toBe('Safari 18, iOS');
});

test('no header, an unknown client, or an oversized header names nothing', () => {
  expect(browserOf(undefined)).toBeNull();
  expect(browserOf('curl-like/1.0')).toBeNull();
  expect(browserOf(`${FIREFOX_LINUX} ${'x'.repeat(2000)}`)).toBeNull();
});

test('only printable words reach a page or a mail', () => {
  const named = browserOf('Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0<b>\u202e');
  expect(named).toMatch(/^[\p{L}\p{N} .,()/_-]+$/u);
});
