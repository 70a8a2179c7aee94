/**
 * Pairwise subject identifiers (issue 15, item 8; OIDC Core §8.1): the sector a client's `sub`
 * values are derived for, and the derivation itself.
 */
import { PairwiseSubjects, SectorRefused, sectorOf } from '../../src/oidc/pairwise.ts';

const ACCOUNT = '3f1c9a2e-6b1d-4c55-9e0a-7d2f4b8c1e90';

describe('the sector of a pairwise client', () => {
  test('is the one host of its redirect URIs (with a port if it has one, in lower case)', () => {
    expect(sectorOf(['https://ado.example.hu/callback', 'https://ado.example.hu/masik'])).toBe('ado.example.hu');
    expect(sectorOf(['https://ADO.example.hu:8443/cb'])).toBe('ado.example.hu:8443');
  });

  test("is the sector identifier URI's host when one is given, whatever the redirect URIs' hosts", () => {
    expect(sectorOf(['https://a.example.hu/cb', 'https://b.example.hu/cb'], 'https://example.hu/sector.json')).toBe('example.hu');
  });

  test('cannot be told from redirect URIs on several hosts without a sector identifier URI', () => {
    expect(() => sectorOf(['https://a.example.hu/cb', 'https://b.example.hu/cb'])).toThrow(
      new SectorRefused('the redirect URIs are on 2 hosts (a.example.hu, b.example.hu): give a sector identifier URI, whose host becomes the sector'),
    );
    expect(() => sectorOf([])).toThrow(SectorRefused);
    expect(() => sectorOf(['nem-url'])).toThrow(new SectorRefused('not an absolute URL: nem-url'));
  });
});

describe('a pairwise sub', () => {
  const subjects = new PairwiseSubjects(Buffer.alloc(32, 7));

  test('is the same for the same account and sector, every time and from every instance with the key', () => {
    const sub = subjects.subject(ACCOUNT, 'ado.example.hu');
    expect(subjects.subject(ACCOUNT, 'ado.example.hu')).toBe(sub);
    expect(new PairwiseSubjects(Buffer.alloc(32, 7)).subject(ACCOUNT, 'ado.example.hu')).toBe(sub);
    expect(sub).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(sub).not.toContain(ACCOUNT);
  });

  test('differs between sectors, between accounts, and under another installation key', () => {
    const sub = subjects.subject(ACCOUNT, 'ado.example.hu');
    expect(subjects.subject(ACCOUNT, 'egeszseg.example.hu')).not.toBe(sub);
    expect(subjects.subject('4f1c9a2e-6b1d-4c55-9e0a-7d2f4b8c1e90', 'ado.example.hu')).not.toBe(sub);
    expect(new PairwiseSubjects(Buffer.alloc(32, 8)).subject(ACCOUNT, 'ado.example.hu')).not.toBe(sub);
  });

  test('keeps sector and account apart: moving characters between them gives another value', () => {
    expect(subjects.subject('b.c', 'a')).not.toBe(subjects.subject('c', 'a.b'));
  });
});
