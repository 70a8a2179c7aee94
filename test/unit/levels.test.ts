/**
 * Authentication levels (SPEC §1, §4): which `acr` a sign-in gets and which one an RP may
 * demand, and the RFC 8176 `amr` of each kind of sign-in.
 */
import { AcrPolicy, amrFor } from '../../src/auth/levels.ts';

const LOW = 'http://eidas.europa.eu/LoA/low';
const SUBSTANTIAL = 'http://eidas.europa.eu/LoA/substantial';
const HIGH = 'http://eidas.europa.eu/LoA/high';

const policy = (app = SUBSTANTIAL, legacyUntil: Date | null = null, passkey = SUBSTANTIAL) => new AcrPolicy({ passwordOnly: LOW, twoFactor: SUBSTANTIAL, app, phishingResistant: passkey }, legacyUntil);

describe('the level an RP demands', () => {
  test('nothing asked: the password alone will do', () => {
    expect(policy().required(undefined, undefined)).toBe('password');
  });

  test('acr_values raise it; of several values the lowest known one counts, and unknown ones are ignored', () => {
    expect(policy().required(SUBSTANTIAL, undefined)).toBe('two_factor');
    expect(policy().required(`${SUBSTANTIAL} ${LOW}`, undefined)).toBe('password');
    expect(policy().required(`urn:other:level ${SUBSTANTIAL}`, undefined)).toBe('two_factor');
    expect(policy().required('urn:other:level', undefined)).toBe('password');
  });

  test("the client's registered minimum is a floor that acr_values cannot lower", () => {
    expect(policy().required(LOW, SUBSTANTIAL)).toBe('two_factor');
    expect(policy().required(undefined, 42)).toBe('password');
  });

  test('with ACR_APP mapped higher, only the phone app reaches it, and it satisfies everything below', () => {
    const mapped = policy(HIGH);
    expect(mapped.required(HIGH, undefined)).toBe('app');
    expect(mapped.satisfies('two_factor', 'app')).toBe(false);
    expect(mapped.satisfies('app', 'two_factor')).toBe(true);
    expect(mapped.values).toEqual([LOW, SUBSTANTIAL, HIGH]);
  });

  test('with ACR_PASSKEY mapped higher, a passkey reaches it (and the app too only when mapped alike)', () => {
    const passkeyHigh = policy(SUBSTANTIAL, null, HIGH);
    expect(passkeyHigh.acrOf('phishing_resistant')).toBe(HIGH);
    expect(passkeyHigh.required(HIGH, undefined)).toBe('phishing_resistant');
    expect(passkeyHigh.satisfies('app', 'phishing_resistant')).toBe(false);
    expect(passkeyHigh.satisfies('phishing_resistant', 'two_factor')).toBe(true);
    const bothHigh = policy(HIGH, null, HIGH);
    expect(bothHigh.satisfies('phishing_resistant', bothHigh.required(HIGH, undefined))).toBe(true);
    expect(bothHigh.values).toEqual([LOW, SUBSTANTIAL, HIGH]);
    // By default a passkey is substantial, like any second factor.
    expect(policy().acrOf('phishing_resistant')).toBe(SUBSTANTIAL);
  });

  test('by default the app is one more second factor: substantial, as good as the others', () => {
    const plain = policy();
    expect(plain.acrOf('app')).toBe(SUBSTANTIAL);
    expect(plain.satisfies('two_factor', 'app')).toBe(true);
    expect(plain.values).toEqual([LOW, SUBSTANTIAL]);
  });

  test('an unknown level satisfies nothing', () => {
    expect(policy().satisfies(undefined, 'password')).toBe(false);
    expect(policy().levelOf('urn:other:level')).toBeUndefined();
  });
});

describe('the cut-off for password-only sign-in (LEGACY_LOGIN_UNTIL)', () => {
  const until = new Date('2025-01-15T23:00:00Z'); // 16 January 2025, 00:00 in Budapest
  test('allowed until the moment before, refused from it on; no cut-off means always allowed', () => {
    expect(policy(SUBSTANTIAL, until).legacyAllowed(new Date(until.getTime() - 1))).toBe(true);
    expect(policy(SUBSTANTIAL, until).legacyAllowed(until)).toBe(false);
    expect(policy().legacyAllowed(new Date('2100-01-01'))).toBe(true);
  });
});

describe('amr', () => {
  test('password only, password with a second factor, and a passwordless factor', () => {
    expect(amrFor(null)).toEqual(['pwd']);
    expect(amrFor(['otp'])).toEqual(['pwd', 'otp', 'mfa']);
    expect(amrFor(['swk', 'pin'], false)).toEqual(['swk', 'pin', 'mfa']);
  });
});
