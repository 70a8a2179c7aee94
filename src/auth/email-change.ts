/**
 * A new email address (SPEC §2, §5), HTTP-free. The address receives the emailed codes, so a
 * change of it moves a factor: whoever has a portal session and the password must not be able to
 * move the emailed code to a mailbox of their own. So, as a new password does, it asks for more
 * than the password:
 *
 *   password again + the new address → the second factor's proof (a code from the app, or one
 *   mailed to the *current* address: whichever the account has; the citizen may switch) → a code
 *   to the new address → done; both addresses are told.
 *
 * The proof is whatever the account's factors offer through the factor contract (`proveChange`),
 * bound to the change: the pending change keeps which factor proves it and when it was proven,
 * and no code goes to the new address, and no change is made, before that (enforced in the
 * queries). An account with no factor that proves a change (password only, or the phone app
 * only) goes on with the password, as before.
 */
import { z } from 'zod';
import type { Clock } from '../clock.ts';
import type { Repos } from '../db/repositories/index.ts';
import type { UnitOfWork } from '../db/unit-of-work.ts';
import type { FactorAccount, FactorRegistry, FactorView, FormFields, Notice } from '../factors/factor.ts';
import { parseCode } from '../factors/factor.ts';
import type { EmailedCodes } from '../security/emailed-codes.ts';
import type { Throttle } from '../security/throttle.ts';
import type { Lang } from '../views.ts';
import type { Who } from './who.ts';
import { ChangeProofs, EXPIRED } from './change-proofs.ts';
import { type Refused, type Result, refuse } from './result.ts';
import type { PortalSession } from './portal-sessions.ts';

export interface EmailChangeDeps {
  uow: UnitOfWork<Repos>;
  factors: FactorRegistry;
  throttle: Throttle;
  codes: EmailedCodes;
  clock: Clock;
}

/** What the account service lends: the password typed again, a pending change, a notice mail. */
export interface AccountTools {
  passwordAgain(session: PortalSession, password: string, who: Who): Promise<boolean>;
  pending(r: Repos, accountId: string, kind: 'email', value: string): Promise<string>;
  notify(r: Repos, account: FactorAccount, lang: Lang, key: string, vars?: Record<string, string>): Promise<void>;
}

/** Where a begun change stands, for its page. */
export type EmailChangePage =
  | { step: 'proof'; email: string; factor: { id: string; labelKey: string }; view: FactorView; others: Array<{ id: string; labelKey: string }>; canResend: boolean }
  | { step: 'code'; email: string; tag: string | null };

const refused = refuse;
const WRONG_PASSWORD = refused('wrong_credentials', 'account.wrong_password');

export class EmailChangeService {
  readonly #deps: EmailChangeDeps;
  readonly #account: AccountTools;
  readonly #proofs: ChangeProofs<{ proof: string | null; proved_at: Date | null; value: string }>;

  constructor(deps: EmailChangeDeps, account: AccountTools) {
    this.#deps = deps;
    this.#account = account;
    this.#proofs = new ChangeProofs(deps, 'email_change', 'email', (open, session) => ownChange(session, open));
  }

  /**
   * Step one: the new address and the password again. The account's first factor that proves a
   * change begins its proof (an emailed code goes to the current address); without one, the new
   * address gets its code at once.
   */
  async begin(session: PortalSession, password: string, newEmail: unknown, who: Who): Promise<Result<{ changeId: string }>> {
    const email = z.email().max(254).safeParse(typeof newEmail === 'string' ? newEmail.trim() : newEmail);
    if (!email.success) return refused('invalid_input', 'account.email_invalid');
    if (email.data.toLowerCase() === session.account.email.toLowerCase()) return refused('invalid_input', 'account.email_same');
    if (!(await this.#account.passwordAgain(session, password, who))) return WRONG_PASSWORD;
    const proved = this.#proofs.provers(session).length === 0;
    return this.#deps.uow.transaction(async (r) => {
      const changeId = await this.#account.pending(r, session.account.id, 'email', email.data);
      if (!proved) return (await this.#proofs.begin(r, session, changeId, who)) ?? { ok: true, changeId };
      await r.pendingChanges.proved(changeId, null, this.#deps.clock.now());
      return (await this.#sendToNew(r, session, changeId, email.data, who)) ?? { ok: true, changeId };
    });
  }

  /** The page of a begun change: the proof while it waits for one, then the new address's code. */
  async page(session: PortalSession, changeId: string, lang: Lang): Promise<EmailChangePage | undefined> {
    return this.#deps.uow.transaction(async (r) => {
      const open = await this.#proofs.open(r, session, changeId);
      if (!open) return undefined;
      if (open.proved_at) {
        const live = await this.#deps.codes.live(r, 'email_change', changeId, session.account.id);
        return { step: 'code', email: open.value, tag: live?.tag ?? null };
      }
      const proof = await this.#proofs.page(r, session, changeId, open, lang);
      return proof && { step: 'proof', email: open.value, ...proof };
    });
  }

  /** Step two: the second factor's proof. Counted like any factor's guess; a right one sends the new address its code. */
  prove(session: PortalSession, changeId: string, form: FormFields, who: Who): Promise<Result> {
    // Refused by the code rules (the hourly cap): the proof stands, and the page offers a new code.
    return this.#proofs.prove(session, changeId, form, who, async (r, open) => (await this.#sendToNew(r, session, changeId, open.value, who)) ?? { ok: true }, { ok: true });
  }

  /** Another of the account's factors proves the change instead (its proof begins: a code is mailed). */
  switchProof(session: PortalSession, changeId: string, factorId: unknown, who: Who): Promise<Result> {
    return this.#proofs.switchTo(session, changeId, factorId, who);
  }

  /** A fresh code: to the current address while the proof waits for one, then to the new address. */
  async resend(session: PortalSession, changeId: string, who: Who): Promise<Notice | undefined> {
    return this.#deps.uow.transaction(async (r) => {
      const open = await this.#proofs.open(r, session, changeId);
      if (!open) return undefined;
      if (open.proved_at) return this.#deps.codes.send(r, 'email_change', changeId, { ...session.account, email: open.value }, who.lang, { service: null, browser: who.browser });
      return this.#proofs.resend(r, session, changeId, open, who);
    });
  }

  /** Step three: the code the new address received. Only a proven change gets here; the old address is told. */
  async complete(session: PortalSession, changeId: string, form: FormFields, who: Who): Promise<Result> {
    const input = parseCode(form);
    if (!input) return refused('invalid_input', 'code.format');
    const { uow, throttle, clock } = this.#deps;
    const attempt = await throttle.factor(uow.repos.throttle, session.account.id, who.ip);
    if (!attempt) return refused('locked', 'throttle.locked');
    return uow.transaction(async (r) => {
      const now = clock.now();
      const open = await this.#proofs.open(r, session, changeId);
      if (!open) return EXPIRED;
      // No code has gone to the new address before the proof: nothing typed here can be right.
      if (!open.proved_at) return refused('invalid_input', 'account.email_proof_first');
      const checked = await this.#deps.codes.check(r, 'email_change', changeId, session.account.id, input.code);
      if (!checked.ok) return { ok: false, refusal: 'wrong_answer', notice: { ...checked.notice, error: true } };
      if (!(await r.pendingChanges.doneProved(changeId, now))) return EXPIRED;
      await throttle.succeeded(r.throttle, attempt);
      await r.accounts.updateEmail(session.account.id, open.value, now);
      await r.audit.record({ type: 'email.changed', accountId: session.account.id, ip: who.ip }, now);
      // The old address learns of it (it may be the only one the citizen still reads).
      await this.#account.notify(r, session.account, who.lang, 'mail.email_changed_old', { email: open.value });
      await this.#account.notify(r, { ...session.account, email: open.value }, who.lang, 'mail.email_changed_new');
      return { ok: true };
    });
  }

  /** The new address's code; the refusal when the code rules refuse one. */
  async #sendToNew(r: Repos, session: PortalSession, changeId: string, email: string, who: Who): Promise<Refused | null> {
    const sent = await this.#deps.codes.send(r, 'email_change', changeId, { ...session.account, email }, who.lang, { service: null, browser: who.browser });
    return sent.error ? { ok: false, refusal: 'rate_limited', notice: sent } : null;
  }
}

/** The change, when it is the session's account's own and names a new address. */
function ownChange<T extends { account_id: string; value: string | null }>(session: PortalSession, open: T | undefined): (T & { value: string }) | undefined {
  return open && open.account_id === session.account.id && open.value ? { ...open, value: open.value } : undefined;
}
