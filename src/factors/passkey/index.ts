/**
 * Passkeys (issue 19): WebAuthn credentials on the citizen's phone, computer or security key, a
 * phishing-resistant way in. An authenticator signs only for kapu's RP ID (the issuer's host)
 * and the browser reports the page's origin, which kapu checks: a fake page relaying the sign-in
 * in real time gets nothing it can use, unlike a code the citizen types.
 *
 * - As a second factor after the password (`signIn`): the account's passkeys are offered;
 *   `amr` pwd + hwk or swk (+ user when the authenticator verified the user) + mfa.
 * - Passwordless, "Bejelentkezés passkey-jel" (`passwordless`): no username typed, the browser
 *   offers the discoverable credentials it has for kapu, the authenticator must verify the
 *   user (PIN, fingerprint, face: something the citizen has, and is or knows); `amr` without pwd.
 * - Added in the portal (`enroll`), named by the citizen, several per account; listed with
 *   their dates and removed one by one (`removal.devices`); a mail on each add and removal.
 * - Under a username lock (`guarded`), and for a new password (`proveReset`).
 *
 * The ceremonies are in ceremony.ts, the rules of challenges and counters in repository.ts, the
 * page parts in views/ with their script in assets/passkey.js (served by kapu itself).
 */
import type { Clock } from '../../clock.ts';
import type { Repos } from '../../db/repositories/index.ts';
import { repositoryKey } from '../../db/repositories/index.ts';
import type { Mailer } from '../../mail/mailer.ts';
import type {
  Device,
  EnrollContext,
  Enrollable,
  Factor,
  FactorAccount,
  FactorContext,
  FactorDeps,
  FactorView,
  FlowContext,
  FormFields,
  GuardedContext,
  GuardedProof,
  Removable,
  ResetProof,
  TypedProof,
  Verification,
} from '../factor.ts';
import type { FactorModule } from '../module.ts';
import { type CeremonyRefusal, PasskeyCeremony, parsePasskeyName } from './ceremony.ts';
import { PasskeyRepository } from './repository.ts';
import { scriptRoutes } from './routes.ts';

export const PASSKEY_FACTOR_ID = 'passkey';
/** The factor's repository in a unit of work: `repos.of(PASSKEYS)`. */
export const PASSKEYS = repositoryKey((db) => new PasskeyRepository(db));
/** The longest browser answer read from a form (a credential's JSON). */
const CREDENTIAL_MAX_LENGTH = 16 * 1024;

/** What a passkey form carries: the browser's answer, and (adding one) the name given to it. */
export interface PasskeyAnswer {
  credential: string;
  name: string | undefined;
}

export interface PasskeyDeps {
  clock: Clock;
  mailer: Mailer;
  ceremony: PasskeyCeremony;
}

const store = (repos: Repos): PasskeyRepository => repos.of(PASSKEYS);

/**
 * A refused answer: the citizen is told one thing for every reason; the reason (a wrong origin
 * or RP ID: a phishing page relayed it) goes to the audit log, and never a part of the answer.
 */
function refusal(reason: CeremonyRefusal): Verification & { ok: false } {
  return { ok: false, notice: { key: reason === 'registered_already' ? 'passkey.enroll_registered' : 'passkey.refused', error: true }, refusal: reason };
}

export class PasskeyFactor implements Factor<PasskeyAnswer> {
  readonly id = PASSKEY_FACTOR_ID;
  /** What every passkey proves at least; the ceremony tells hwk from swk and adds `user` (see `Verification.amr`). */
  readonly amr = ['hwk'];
  readonly labelKey = 'factor.passkey';
  /** Its `acr` is ACR_PASSKEY (substantial unless an operator maps it higher). */
  readonly level = 'phishing_resistant' as const;
  /** Its pages work only where the browser has WebAuthn: elsewhere it is not offered (a sentence says why). */
  readonly needs = 'webauthn' as const;
  readonly #deps: PasskeyDeps;

  constructor(deps: PasskeyDeps) {
    this.#deps = deps;
  }

  /** The browser's answer, as the page's script put it in the form; without one, nothing to check. */
  parse(form: FormFields): PasskeyAnswer | undefined {
    const credential = form['credential'];
    const name = form['name'];
    if (typeof credential !== 'string' || credential.length > CREDENTIAL_MAX_LENGTH) return undefined;
    if (name !== undefined && typeof name !== 'string') return undefined;
    return { credential, name };
  }

  // ---- sign-in: after the password, and without it

  readonly signIn: TypedProof<PasskeyAnswer> = this.#proof();
  readonly passwordless: TypedProof<PasskeyAnswer, FlowContext> = this.#proof();

  /**
   * One proof serves both: with an account (after the password) its passkeys are allowed; without
   * one the browser offers its discoverable credentials and the answer names the account.
   */
  #proof(): TypedProof<PasskeyAnswer, FlowContext> {
    return {
      answered: 'typed',
      // The challenge is made with the page that shows it (`view`): a reload gets a fresh one.
      begin: async () => null,
      view: async (ctx) => {
        const options = await this.#deps.ceremony.authenticationOptions(store(ctx.repos), { flowId: ctx.flowId, accountId: ctx.account?.id ?? null });
        return this.#part('@passkey/sign-in', { options: JSON.stringify(options), passwordless: ctx.account === null });
      },
      verify: (ctx, input) => this.#authenticate(ctx.repos, ctx.flowId, ctx.account, input),
    };
  }

  async #authenticate(repos: Repos, flowId: string, account: FactorAccount | null, input: PasskeyAnswer): Promise<Verification> {
    if (!input.credential) return { ok: false, notice: { key: 'passkey.missing' } };
    const result = await this.#deps.ceremony.authenticate(store(repos), { flowId, response: input.credential });
    if (!result.ok) return refusal(result.reason);
    // After a password the challenge was bound to that account, and the ceremony checked it; a
    // new password's discoverable challenge names none, so the credential is checked here.
    if (account && result.value.accountId !== account.id) return refusal('wrong_account');
    await touchFactor(repos, result.value.accountId, this.#deps.clock.now());
    return { ok: true, accountId: result.value.accountId, amr: result.value.amr };
  }

  // ---- settings

  readonly enroll: Enrollable<PasskeyAnswer> = {
    words: { start: 'setup.next', dialog: 'passkey.enroll_dialog' },
    // Nothing to keep: the challenge is bound to the enrollment (its id is the flow).
    begin: async () => ({}),
    view: async (ctx: EnrollContext): Promise<FactorView> => {
      const options = await this.#deps.ceremony.registrationOptions(store(ctx.repos), { flowId: ctx.flowId, account: ctx.account });
      return this.#part('@passkey/enroll', { options: JSON.stringify(options) });
    },
    confirm: async (ctx: EnrollContext, input: PasskeyAnswer): Promise<Verification> => {
      const name = parsePasskeyName(input.name);
      if (!name) return { ok: false, notice: { key: 'passkey.name_invalid' } };
      if (!input.credential) return { ok: false, notice: { key: 'passkey.missing' } };
      const result = await this.#deps.ceremony.register(store(ctx.repos), { flowId: ctx.flowId, accountId: ctx.account.id, response: input.credential, name });
      if (!result.ok) return refusal(result.reason);
      const { mailer, clock } = this.#deps;
      await mailer.queue(ctx.repos.outbox, mailer.notice(ctx.account.email, ctx.lang, { key: 'mail.passkey_added', name: ctx.account.name, vars: { device: name } }), clock.now());
      // Set up inline, the sign-in goes on with it: the key it is, verified by its user (required here).
      return { ok: true, amr: [result.value.backupEligible ? 'swk' : 'hwk', 'user'] };
    },
  };

  readonly removal: Removable = {
    remove: (ctx: FactorContext) => store(ctx.repos).removeAll(ctx.account.id),
    devices: {
      list: async (repos, accountId): Promise<Device[]> =>
        (await store(repos).list(accountId)).map((p) => ({
          id: p.id,
          name: p.name,
          createdAt: p.created_at,
          lastUsedAt: p.last_used_at,
          lockedAt: null,
          // What the authenticator reported: a synced passkey is on the citizen's other devices too.
          note: p.backup_eligible ? 'passkey.synced' : 'passkey.device_bound',
        })),
      removeOne: async (ctx, deviceId) => {
        const device = (await this.removal.devices!.list(ctx.repos, ctx.account.id)).find((d) => d.id === deviceId);
        if (!device) return undefined;
        return (await store(ctx.repos).remove(ctx.account.id, deviceId)).removed ? device : undefined;
      },
      removedMail: 'mail.passkey_removed',
      words: {
        title: 'passkey.devices_title',
        link: 'passkey.devices_link',
        add: 'passkey.device_add',
        removeIntro: 'passkey.remove_intro',
        none: 'passkey.none',
        removed: 'passkey.removed',
      },
    },
  };

  /**
   * A new password (a forgotten one, a change in the portal): a passkey of the account, in place
   * of the app's code, so a citizen who lost the phone with the app still gets back in. On a
   * forgotten password's page, which names no account and is the same for any name, it is the
   * passwordless ceremony (the browser offers what it holds for kapu, the user verified); the
   * credential must then be the reset's account's. The challenge is bound to the request (or
   * the change), used up by its first answer, and lives like a code. The part holds its answer
   * until the form is sent with the new password.
   */
  readonly proveReset: ResetProof<PasskeyAnswer> = {
    template: '@passkey/sign-in',
    // Only an answer is one: an empty field leaves this proof unanswered (another may be given).
    parse: (form) => {
      const answer = this.parse(form);
      return answer?.credential ? answer : undefined;
    },
    begin: async () => null,
    view: async (ctx) => {
      const options = await this.#deps.ceremony.authenticationOptions(store(ctx.repos), { flowId: ctx.flowId, accountId: ctx.account?.id ?? null });
      return this.#part('@passkey/sign-in', { options: JSON.stringify(options), passwordless: ctx.account === null, reset: true });
    },
    verify: (ctx, input) => this.#authenticate(ctx.repos, ctx.flowId, ctx.account, input),
  };

  /**
   * Under a username lock: the passwordless ceremony (the same page and challenge whether the
   * password was right or not: no list of the account's credentials that would tell), and the
   * passkey must be the account's. Without an account behind it, it never succeeds. What it
   * keeps on the flow is the page's options; every answer, right or wrong, uses up their
   * challenge, so a refusal keeps fresh ones.
   */
  readonly guarded: GuardedProof<PasskeyAnswer> = {
    begin: (ctx: GuardedContext) => this.#guardedOptions(ctx),
    view: (_ctx: GuardedContext, kept: string) => this.#part('@passkey/sign-in', { options: kept, passwordless: false }),
    verify: async (ctx: GuardedContext, kept: string, input: PasskeyAnswer) => {
      const result = input.credential ? await this.#deps.ceremony.authenticate(store(ctx.repos), { flowId: ctx.flowId, response: input.credential }) : null;
      if (result?.ok && ctx.account !== null && result.value.accountId === ctx.account.id) {
        await touchFactor(ctx.repos, ctx.account.id, this.#deps.clock.now());
        return { verification: { ok: true, amr: result.value.amr }, kept };
      }
      const verification: Verification = result === null ? { ok: false, notice: { key: 'passkey.missing' } } : refusal(result.ok ? 'wrong_account' : result.reason);
      return { verification, kept: result === null ? kept : await this.#guardedOptions(ctx) };
    },
  };

  async #guardedOptions(ctx: GuardedContext): Promise<string> {
    return JSON.stringify(await this.#deps.ceremony.authenticationOptions(store(ctx.repos), { flowId: ctx.flowId, accountId: null }));
  }

  /** Housekeeping: challenges past their time (their sign-in or setup is over). */
  maintain(repos: Repos, expiredBefore: Date): Promise<number> {
    return store(repos).purgeExpired(expiredBefore);
  }

  #part(template: string, data: Record<string, unknown>): FactorView {
    return { template, data, scripts: true };
  }
}

async function touchFactor(repos: Repos, accountId: string, now: Date): Promise<void> {
  await repos.factors.touch(accountId, PASSKEY_FACTOR_ID, now);
}

export const passkey: FactorModule = {
  id: PASSKEY_FACTOR_ID,
  folder: new URL('./', import.meta.url),
  create: (deps: FactorDeps) =>
    new PasskeyFactor({
      clock: deps.clock,
      mailer: deps.mailer,
      ceremony: new PasskeyCeremony({ issuer: deps.origin, rpName: 'Ügyfélkapu+', clock: deps.clock, random: deps.random, challengeSeconds: deps.codes.rules.ttlSeconds }),
    }),
  routes: () => [scriptRoutes()],
};
