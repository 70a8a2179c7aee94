/**
 * Which files kapu keeps as a logo: PNG, JPEG and WebP, known by their first bytes whatever the
 * file is called; never SVG (a document that can run scripts under kapu's origin); at most 64 KiB.
 */
import { LOGO_MAX_BYTES, LogoRefused, checkLogo, logoPath } from '../../src/oidc/client-logos.ts';
import { JPEG, SVG, WEBP, png } from '../helpers/images.ts';

const refusal = (bytes: Uint8Array): string => {
  try {
    checkLogo(bytes);
  } catch (err) {
    if (err instanceof LogoRefused) return err.message;
    throw err;
  }
  throw new Error('accepted');
};

test('PNG, JPEG and WebP are accepted, with their type and hash', () => {
  const logo = png(10, 10);
  expect(checkLogo(logo)).toEqual({ contentType: 'image/png', bytes: logo, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
  expect(checkLogo(JPEG).contentType).toBe('image/jpeg');
  expect(checkLogo(WEBP).contentType).toBe('image/webp');
});

test('an SVG is refused as such, with or without an XML declaration or a byte-order mark', () => {
  expect(refusal(SVG)).toMatch(/is an SVG image: only PNG, JPEG or WebP/);
  expect(refusal(Buffer.from('\uFEFF  <svg xmlns="http://www.w3.org/2000/svg"/>'))).toMatch(/is an SVG image/);
});

test('other files, and images in other formats, are refused', () => {
  const notAnImage = /is not a PNG, JPEG or WebP image/;
  expect(refusal(Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1'))).toMatch(notAnImage);
  expect(refusal(Buffer.from('<html><script>alert(1)</script></html>'))).toMatch(notAnImage);
  // A PNG signature alone, not followed by the header chunk every PNG starts with.
  expect(refusal(Buffer.concat([png(1, 1).subarray(0, 8), Buffer.from('<script>alert(1)</script>')]))).toMatch(notAnImage);
  // A RIFF file that is not a WebP (a WAV sound).
  expect(refusal(Buffer.from('RIFF\x24\x00\x00\x00WAVEfmt ', 'latin1'))).toMatch(notAnImage);
  expect(refusal(Buffer.alloc(0))).toBe('the logo file is empty');
});

test('64 KiB is the most', () => {
  const padded = (size: number) => Buffer.concat([png(1, 1), Buffer.alloc(size - png(1, 1).length)]);
  expect(checkLogo(padded(LOGO_MAX_BYTES)).contentType).toBe('image/png');
  expect(refusal(padded(LOGO_MAX_BYTES + 1))).toBe('the logo is 65537 bytes; at most 65536 bytes (64 KiB) are accepted: make it smaller');
});

test("the logo's address names its version, so a new logo has a new address", () => {
  expect(logoPath('ado.hivatal', 'ab'.repeat(32))).toBe('/clients/ado.hivatal/logo?v=abababababababab');
});
