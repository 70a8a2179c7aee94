/**
 * The passkey factor's own tables (migrations/…_passkeys.ts). They are known only here: the
 * repository widens kapu's database type with them (Kysely's `withTables`), so no file outside
 * this folder names them.
 */
import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date, Date>;

export interface PasskeyCredentialTable {
  id: string;
  account_id: string;
  /** base64url, as the authenticator made it. */
  credential_id: string;
  /** The COSE public key, base64url. */
  public_key: string;
  /** base64url of the random user handle the account's passkeys share. */
  user_handle: string;
  /** bigint: read as a string (pg) or a number, written as a number. */
  counter: ColumnType<string | number, number | undefined, number>;
  /** Comma-separated WebAuthn transports ("internal,hybrid"). */
  transports: Generated<string>;
  backup_eligible: boolean;
  backed_up: boolean;
  aaguid: string;
  name: string;
  created_at: Timestamp;
  last_used_at: Timestamp | null;
}

export interface PasskeyChallengeTable {
  id: string;
  /** base64url, as sent to the browser (no secret: the page has it). */
  challenge: string;
  purpose: 'register' | 'authenticate';
  flow_id: string;
  account_id: string | null;
  user_verification: 'required' | 'preferred';
  /** A registration's user handle, as its options gave it to the authenticator. */
  user_handle: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: Timestamp | null;
}

// A type, not an interface: Kysely's `withTables` wants a record type.
export type PasskeyTables = {
  passkey_credential: PasskeyCredentialTable;
  passkey_challenge: PasskeyChallengeTable;
};
