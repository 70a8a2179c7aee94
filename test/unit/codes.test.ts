/**
 * One-time codes as people type them and as kapu makes them (SPEC §3): six digits, whatever
 * spaces and dashes are pasted with them; a session tag of three digits that never repeats the
 * previous one.
 */
import type { Random } from '../../src/clock.ts';
import { parseCode } from '../../src/factors/factor.ts';
import { newTag } from '../../src/security/emailed-codes.ts';

describe('a typed code', () => {
  test.each([
    ['123456', '123456'],
    [' 123 456 ', '123456'],
    ['123-456', '123456'],
    ['012345', '012345'],
  ])('%j is read as %s', (typed, code) => {
    expect(parseCode({ code: typed })).toEqual({ code });
  });

  test.each([['12345'], ['1234567'], ['12345a'], ['１２３４５６'], [''], ['1'.repeat(65)]])('%j is no code at all (no try is spent on it)', (typed) => {
    expect(parseCode({ code: typed })).toBeUndefined();
  });

  test('a missing field or one that is not text is no code either', () => {
    expect(parseCode({})).toBeUndefined();
    expect(parseCode({ code: ['123456'] })).toBeUndefined();
  });
});

describe('the session tag (munkamenet-azonosító)', () => {
  /** Random digits from a script: the test decides what "random" gives. */
  const scripted = (...values: number[]): Random => ({
    int: () => values.shift() ?? 0,
    bytes: (n) => Buffer.alloc(n),
    uuid: () => '00000000-0000-4000-8000-000000000000',
  });

  test('is three digits, leading zeros kept', () => {
    expect(newTag(scripted(0, 0, 7), undefined)).toBe('007');
  });

  test('is never the tag of the previous code of the same sign-in', () => {
    expect(newTag(scripted(4, 2, 1, 4, 2, 1, 9, 9, 9), '421')).toBe('999');
  });
});
