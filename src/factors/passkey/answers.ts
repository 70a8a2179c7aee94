/**
 * What a browser sends about a passkey, read before the ceremony checks it: the name a citizen
 * gives one, the credential's JSON (only its shape: the library checks the rest), and the
 * library's error messages turned into a reason for the audit log.
 */
import type { ChallengeRefusal } from './repository.ts';

/** Why an answer was refused: for the audit log. The citizen is told one thing for all. */
export type CeremonyRefusal =
  | ChallengeRefusal
  | 'invalid_response'
  | 'wrong_origin'
  | 'wrong_rp_id'
  | 'user_verification'
  | 'counter'
  | 'bad_signature'
  | 'unknown_credential'
  | 'wrong_account'
  | 'registered_already';

/** The longest answer a browser sends for one credential (a JSON of base64url fields). */
const RESPONSE_MAX_LENGTH = 16 * 1024;
const NAME_MAX_LENGTH = 60;

/** The name a citizen gives a passkey: trimmed, no control characters, 1–60 characters. */
export function parsePasskeyName(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 4 * NAME_MAX_LENGTH) return undefined;
  const name = value.replace(/\p{C}/gu, '').trim();
  return name && [...name].length <= NAME_MAX_LENGTH ? name : undefined;
}

/**
 * The browser's answer as the page posts it: `JSON.stringify` of the PublicKeyCredential (its
 * `toJSON()`), in one form field. Only its shape is checked here; the library checks the rest.
 */
export function parseResponse<T>(value: unknown): T | undefined {
  let parsed: unknown = value;
  if (typeof value === 'string') {
    if (value.length > RESPONSE_MAX_LENGTH) return undefined;
    try {
      parsed = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (!isObject(parsed) || typeof parsed['id'] !== 'string' || parsed['id'].length > 1400 || parsed['type'] !== 'public-key') return undefined;
  const inner = parsed['response'];
  if (!isObject(inner) || typeof inner['clientDataJSON'] !== 'string') return undefined;
  if (inner['userHandle'] !== undefined && inner['userHandle'] !== null && typeof inner['userHandle'] !== 'string') return undefined;
  if (inner['userHandle'] === null) delete inner['userHandle'];
  if (!isObject(parsed['clientExtensionResults'])) parsed['clientExtensionResults'] = {};
  if (typeof parsed['rawId'] !== 'string') parsed['rawId'] = parsed['id'];
  return parsed as T;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The library says what failed only in its messages: read them for the audit log's reason. */
export function classify(error: unknown): CeremonyRefusal {
  const message = error instanceof Error ? error.message : '';
  if (/origin/i.test(message)) return 'wrong_origin';
  if (/RP ID/i.test(message)) return 'wrong_rp_id';
  if (/counter/i.test(message)) return 'counter';
  if (/user verification|could not be verified/i.test(message)) return 'user_verification';
  if (/challenge/i.test(message)) return 'invalid_response';
  return 'invalid_response';
}
