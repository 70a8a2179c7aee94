/** Row types of kapu's tables, as Kysely sees them. Kept in step with migrations/. */
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

export type Timestamp = ColumnType<Date, Date, Date>;
type Json<T> = ColumnType<T, string, string>;

export interface AccountTable {
  id: string;
  username: string;
  name: string;
  email: string;
  password_hash: string;
  /** The language of the citizen's last finished sign-in ('hu' | 'en'); their mails use it. */
  lang: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** Set by an operator: the account is kept but cannot sign in. */
  disabled_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface OidcClientTable {
  client_id: string;
  secret_sealed: string | null;
  metadata: Json<Record<string, unknown>>;
  created_at: Timestamp;
  /** After `client rotate-secret`: the old secret, accepted until its grace period ends. */
  previous_secret_sealed: ColumnType<string | null, string | null | undefined, string | null>;
  previous_secret_expires_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** 'public' or 'pairwise' (OIDC Core §8.1); a pairwise client's `sub` is derived for its sector. */
  subject_type: ColumnType<'public' | 'pairwise', 'public' | 'pairwise' | undefined, 'public' | 'pairwise'>;
  /** The host a pairwise client's `sub` values are derived for; null for a public client. */
  sector: ColumnType<string | null, string | null | undefined, string | null>;
}

/** The installation's key for pairwise `sub` values (one row; see src/oidc/pairwise.ts). */
export interface PairwiseKeyTable {
  id: number;
  key_sealed: string;
  created_at: Timestamp;
}

/** A relying party's logo (client add|update --logo-file), served by kapu at /clients/<id>/logo. */
export interface ClientLogoTable {
  client_id: string;
  content_type: 'image/png' | 'image/jpeg' | 'image/webp';
  /** pg gives a Buffer, PGlite a Uint8Array. */
  bytes: ColumnType<Uint8Array, Uint8Array, Uint8Array>;
  sha256: string;
  updated_at: Timestamp;
}

export interface SigningKeyTable {
  kid: string;
  alg: string;
  private_jwk_sealed: string;
  /** Published in JWKS from created_at; signs from signs_from (see src/oidc/keys.ts). */
  created_at: Timestamp;
  signs_from: Timestamp;
  /** Taken out of JWKS for good (a key's normal end is derived from the times: src/oidc/keys.ts). */
  retired_at: Timestamp | null;
}

export interface OidcPayloadTable {
  model: string;
  id: string;
  payload: Json<Record<string, unknown>>;
  grant_id: string | null;
  user_code: string | null;
  uid: string | null;
  expires_at: Timestamp | null;
  consumed_at: Timestamp | null;
}

export interface LoginFlowTable {
  uid: string;
  /** One of FLOW_STATES (src/auth/flow.ts); a CHECK constraint holds the database to it. */
  state: string;
  /** 'rp': behind an oidc-provider interaction; 'portal': kapu's own account portal. */
  kind: ColumnType<string, string | undefined, string>;
  method: string | null;
  account_id: string | null;
  factor: string | null;
  /** The factor being set up inline (state `enroll`). */
  enrollment_id: string | null;
  /** State `guarded`: the typed username and the factor's proof state (JSON). */
  guard: ColumnType<string | null, string | null | undefined, string | null>;
  /** A portal sign-in: the portal session the browser had when it began, ended when it finishes. */
  replaces_session: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
  expires_at: Timestamp;
}

export interface AuditEventTable {
  id: Generated<string>;
  at: Timestamp;
  type: string;
  account_id: string | null;
  client_id: string | null;
  ip: string | null;
  detail: Json<Record<string, unknown>>;
}

export interface FactorTable {
  id: string;
  account_id: string;
  kind: string;
  secret_sealed: string | null;
  last_time_step: ColumnType<string | null, number | null, number | null>;
  created_at: Timestamp;
  last_used_at: Timestamp | null;
  /** The törlőkód (removal code) of an app factor: argon2id hash only. */
  recovery_hash: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface OneTimeCodeTable {
  id: string;
  account_id: string;
  purpose: string;
  flow_id: string;
  tag: string;
  code_hash: string;
  attempts: Generated<number>;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: Timestamp | null;
  superseded_at: Timestamp | null;
}

export interface MailOutboxTable {
  id: Generated<string>;
  recipient: string;
  message_sealed: string | null;
  created_at: Timestamp;
  next_attempt_at: Timestamp;
  attempts: Generated<number>;
  last_error: string | null;
  sent_at: Timestamp | null;
  /** The one-time code the mail carries: it is sent only while that code is live. */
  code_id: string | null;
  /** A sender's claim runs until then, on the database's clock. */
  leased_until: Timestamp | null;
  /** Not sent, as its code was no longer live when its turn came. */
  withdrawn_at: Timestamp | null;
  /** Times the mail server refused this very mail (while it answered). */
  refusals: Generated<number>;
}

/** A factor being set up: begun, not yet confirmed (SPEC §2). */
export interface EnrollmentTable {
  id: string;
  account_id: string;
  factor: string;
  secret_sealed: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  confirmed_at: Timestamp | null;
}

/** A portal session: the id is the SHA-256 of the token in the citizen's cookie. */
export interface PortalSessionTable {
  id: string;
  account_id: string;
  created_at: Timestamp;
  last_seen_at: Timestamp;
  expires_at: Timestamp;
  ip: string | null;
  browser: string | null;
}

/** A change that waits for a proof: a new email address, a forgotten password. */
export interface PendingChangeTable {
  id: string;
  account_id: string;
  kind: 'email' | 'reset' | 'setup';
  value: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  done_at: Timestamp | null;
  /** A new address: the factor chosen to prove the change first, and when it was proven. */
  proof: ColumnType<string | null, string | null | undefined, string | null>;
  proved_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

/**
 * A request in a username's name, before anything proves who asks: a forgotten password's code,
 * or a link that lets one browser past a username lock. A stand-in (the name is nobody's) has no
 * account, and its secret matches nothing.
 */
export interface RecoveryRequestTable {
  id: string;
  kind: 'reset' | 'unlock';
  username: string;
  account_id: string | null;
  ip_key: string;
  tag: string;
  secret_hash: string;
  browser_hash: string | null;
  flow_id: string | null;
  attempts: Generated<number>;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: Timestamp | null;
}

export interface AuthThrottleTable {
  key: string;
  failures: number;
  consecutive: number;
  window_start: Timestamp;
  locked_until: Timestamp | null;
  updated_at: Timestamp;
}

export interface Database {
  auth_throttle: AuthThrottleTable;
  account: AccountTable;
  oidc_client: OidcClientTable;
  client_logo: ClientLogoTable;
  signing_key: SigningKeyTable;
  pairwise_key: PairwiseKeyTable;
  oidc_payload: OidcPayloadTable;
  login_flow: LoginFlowTable;
  audit_event: AuditEventTable;
  factor: FactorTable;
  enrollment: EnrollmentTable;
  portal_session: PortalSessionTable;
  pending_change: PendingChangeTable;
  recovery_request: RecoveryRequestTable;
  one_time_code: OneTimeCodeTable;
  mail_outbox: MailOutboxTable;
}

export type AccountRow = Selectable<AccountTable>;
export type NewAccount = Insertable<AccountTable>;
