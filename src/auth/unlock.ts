/**
 * A way in that no stranger can take away (SPEC §5, issue 15): a link mailed to the address on
 * file that lets *this browser* past a username lock. Opened in the browser that asked for it, it
 * makes that browser one that signed in to the account before (the device cookie, which the
 * route sets): its password guesses then count apart from everyone else's, so strangers'
 * failures no longer block it. The password is still asked, as always; the link proves only
 * that whoever asked reads the account's mail.
 *
 * Asking answers and works the same for any name (recovery-requests.ts). The link is single use,
 * lives CODE_TTL_SECONDS, and works only together with the binding cookie of the browser that
 * asked: a forwarded link, or one a mail scanner fetches, does nothing and is not used up.
 */
import type { Clock, Random } from '../clock.ts';
import type { Repos } from '../db/repositories/index.ts';
import type { UnitOfWork } from '../db/unit-of-work.ts';
import { type Mailer, NOBODY } from '../mail/mailer.ts';
import type { SecretBox } from '../security/secret-box.ts';
import type { Who } from './who.ts';
import { type Result, refuse } from './result.ts';
import type { RecoveryRequests } from './recovery-requests.ts';

export interface UnlockDeps {
  uow: UnitOfWork<Repos>;
  requests: RecoveryRequests;
  mailer: Mailer;
  box: SecretBox;
  clock: Clock;
  random: Random;
  /** kapu's public origin: where the mailed link points. */
  origin: string;
}

/** The path of a mailed link; its token travels in the query (`t`), which logs never keep. */
export const UNLOCK_PATH = '/unlock';
const USERNAME_MAX_LENGTH = 200;
const ID = /^[0-9a-f-]{36}$/;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;
/** A browser's binding value (its cookie), as `newBinding` makes them. */
export const BINDING = /^[A-Za-z0-9_-]{32}$/;

export type Opened = { ok: true; accountId: string; username: string; flowId: string | null } | { ok: false };

export class UnlockService {
  readonly #deps: UnlockDeps;

  constructor(deps: UnlockDeps) {
    this.#deps = deps;
  }

  /** How long a link lives, in minutes (what the pages say). */
  get minutes(): number {
    return Math.round(this.#deps.requests.ttlSeconds / 60);
  }

  /** A new value to bind this browser's links to (kept in its cookie). */
  newBinding(): string {
    return this.#deps.random.bytes(24).toString('base64url');
  }

  /**
   * Mails a link for `username` to the address on file, bound to the browser whose cookie holds
   * `binding`; `flowId`: the sign-in it was asked from. The same answer for every name: the
   * tag the mail will show (or `rate_limited` when the address or the name asked too often).
   */
  async ask(username: unknown, who: Who, binding: string, flowId: string | null): Promise<Result<{ tag: string }>> {
    const name = typeof username === 'string' && username.length <= USERNAME_MAX_LENGTH ? username.trim() : '';
    if (!name) return refuse('invalid_input', 'unlock.missing');
    const { requests, mailer, box, clock, random, origin } = this.#deps;
    const minutes = this.minutes;
    const asked = await requests.ask({
      kind: 'unlock',
      username: name,
      who,
      browserHash: box.mac('unlock-browser', binding),
      flowId,
      make: ({ id, tag, to }) => {
        const token = random.bytes(32).toString('base64url');
        const url = `${origin}${UNLOCK_PATH}/${id}?t=${token}`;
        const message = mailer.link(to?.email ?? NOBODY, who.lang, { kind: 'unlock', name: to?.name ?? '', username: to?.username ?? name, tag, url, minutes, at: clock.now(), browser: who.browser });
        return { secret: token, message };
      },
    });
    return asked.ok ? { ok: true, tag: asked.tag } : refuse('rate_limited', 'recovery.too_many');
  }

  /**
   * The mailed link, opened: used up when it is open, its token right and this browser the one
   * that asked (`binding`, from its cookie). What it names comes back: the route makes this
   * browser known to that account. Any other link: `ok: false`, and nothing is used up.
   */
  async open(id: unknown, token: unknown, binding: string | undefined, who: Who): Promise<Opened> {
    if (typeof id !== 'string' || !ID.test(id) || typeof token !== 'string' || !TOKEN.test(token) || !binding || !BINDING.test(binding)) return { ok: false };
    const { uow, requests, box, clock } = this.#deps;
    return uow.transaction(async (r) => {
      const now = clock.now();
      const used = await r.recovery.useLink(id, requests.hashes(id, token), box.macs('unlock-browser', binding), now);
      if (!used) return { ok: false };
      await r.audit.record({ type: 'signin.unlocked', accountId: used.accountId, ip: who.ip, detail: { ...(who.browser && { browser: who.browser }) } }, now);
      return { ok: true, ...used };
    });
  }
}
