/** The statement a sign-in step starts from (SignInsRepository.load). */
import { sql } from 'kysely';
import type { Db } from '../database.ts';
import { normalizeUsername } from './accounts.ts';
import type { LiveCode } from './one-time-codes.ts';
import { countCtes } from './sign-in-throttle.ts';
import { type AdmittedRow, type Counted, type StepCount, countedOf } from './throttle.ts';

/**
 * A sign-in as kapu stores it: kapu's own flow row (`login_flow`), and for a sign-in at an RP
 * oidc-provider's Interaction (the RP's request; read-only here: its result is written by the
 * finishing statement, sign-in-finish.ts, as src/oidc/interaction-store.ts shapes it), keyed by
 * the interaction uid. A sign-in at kapu's own portal
 * has no interaction.
 */
export interface SignInRow {
  kind: 'rp' | 'portal';
  /** The provider's interaction payload (params, prompt, returnTo, …); null for the portal. */
  interaction: Record<string, unknown> | null;
  state: string;
  method: string | null;
  factor: string | null;
  enrollmentId: string | null;
  /** State `guarded`: what the proof under a username lock keeps (src/auth/sign-in.ts). */
  guard: string | null;
  /** The account the flow has identified (after a right password), with its factor kinds. */
  account: { id: string; username: string; name: string; email: string; lang: string | null; factorKinds: string[] } | null;
}

/** The account a typed username names, with what the password check needs. */
export interface Candidate {
  id: string;
  username: string;
  name: string;
  email: string;
  /** The citizen's language ('hu' | 'en'), null until their first finished sign-in. */
  lang: string | null;
  passwordHash: string;
  factorKinds: string[];
}

interface LoadedRow {
  kind: 'rp' | 'portal';
  payload: Record<string, unknown> | null;
  state: string;
  method: string | null;
  factor: string | null;
  enrollment_id: string | null;
  guard: string | null;
  account_id: string | null;
  account_username: string | null;
  account_name: string | null;
  account_email: string | null;
  account_lang: string | null;
  account_factor_kinds: string[] | null;
  candidate_id?: string | null;
  candidate_username?: string | null;
  candidate_name?: string | null;
  candidate_email?: string | null;
  candidate_lang?: string | null;
  candidate_password_hash?: string | null;
  candidate_factor_kinds?: string[] | null;
  counted?: AdmittedRow[];
  code_id: string | null;
  code_tag: string | null;
  code_created_at: Date | string | null;
  code_expires_at: Date | string | null;
  code_attempts: number | null;
}

export async function loadSignIn(db: Db, uid: string, now: Date, initialState: string, candidate?: string, count?: StepCount): Promise<{ signIn: SignInRow; candidate: Candidate | null; counted?: Counted[]; code?: LiveCode | null } | undefined> {
    const candidateJoin = candidate === undefined ? sql`` : sql`left join account c on c.username = ${normalizeUsername(candidate)} and c.disabled_at is null`;
    const candidateColumns =
      candidate === undefined
        ? sql``
        : sql`, c.id as candidate_id, c.username as candidate_username, c.name as candidate_name, c.email as candidate_email, c.lang as candidate_lang,
              c.password_hash as candidate_password_hash,
              array(select f.kind from factor f where f.account_id = c.id order by f.created_at) as candidate_factor_kinds`;
    const result = await sql<LoadedRow>`
      with interaction as (
        select payload, expires_at from oidc_payload
        where model = 'Interaction' and id = ${uid} and expires_at > ${now}
      ),
      opened as (
        insert into login_flow (uid, state, created_at, updated_at, expires_at)
        select ${uid}, ${initialState}, ${now}, ${now}, expires_at from interaction
        on conflict (uid) do nothing
        returning kind, state, method, account_id, factor, enrollment_id, guard
      ),
      flow as (
        select kind, state, method, account_id, factor, enrollment_id, guard from opened
        union all
        select kind, state, method, account_id, factor, enrollment_id, guard from login_flow where uid = ${uid} and expires_at > ${now}
      ),
      loaded as (
        select f.kind, i.payload, f.state, f.method, f.factor, f.enrollment_id, f.guard, f.account_id,
               a.username as account_username, a.name as account_name, a.email as account_email, a.lang as account_lang,
               case when a.id is null then null else array(select k.kind from factor k where k.account_id = a.id order by k.created_at) end as account_factor_kinds
               ${candidateColumns}
        , c1.id as code_id, c1.tag as code_tag, c1.created_at as code_created_at, c1.expires_at as code_expires_at, c1.attempts as code_attempts
        from (select * from flow limit 1) f
        left join interaction i on true
        left join account a on a.id = f.account_id
        left join lateral (
          select id, tag, created_at, expires_at, attempts from one_time_code
          where f.state = 'factor' and purpose = 'signin' and flow_id = ${uid} and account_id = f.account_id and superseded_at is null
          order by created_at desc limit 1
        ) c1 on true
        ${candidateJoin}
      )
      ${count ? sql`, ${countCtes(count)}` : sql``}
      select loaded.* ${count ? sql`, (select coalesce(json_agg(admitted), '[]'::json) from admitted) as counted` : sql``}
      from loaded`.execute(db);
    const row = result.rows[0];
    // An RP's sign-in lives as long as its interaction.
    if (!row || (row.kind === 'rp' && !row.payload)) return undefined;
    return {
      signIn: {
        kind: row.kind,
        interaction: row.payload,
        state: row.state,
        method: row.method,
        factor: row.factor,
        enrollmentId: row.enrollment_id,
        guard: row.guard,
        account: row.account_id
          ? { id: row.account_id, username: row.account_username!, name: row.account_name!, email: row.account_email!, lang: row.account_lang, factorKinds: row.account_factor_kinds ?? [] }
          : null,
      },
      ...(count && { counted: countedOf(row.counted ?? [], count.now) }),
      // At a factor: the sign-in's live one-time code, if any (a page shows it without another read).
      ...(row.state === 'factor' && row.account_id && { code: row.code_id ? { id: row.code_id, tag: row.code_tag!, created_at: new Date(row.code_created_at!), expires_at: new Date(row.code_expires_at!), attempts: Number(row.code_attempts) } : null }),
      candidate: row.candidate_id
        ? {
            id: row.candidate_id,
            username: row.candidate_username!,
            name: row.candidate_name!,
            email: row.candidate_email!,
            lang: row.candidate_lang ?? null,
            passwordHash: row.candidate_password_hash!,
            factorKinds: row.candidate_factor_kinds ?? [],
          }
        : null,
    };
}
