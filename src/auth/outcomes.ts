/**
 * What a step of the sign-in core comes to. The core knows nothing of HTTP: the interaction
 * routes turn each outcome into a response in one place (src/interactions/respond.ts).
 */
import type { Notice } from '../factors/factor.ts';
import type { Lang } from '../views.ts';
import type { SignInPage } from './pages.ts';
import type { Refusal } from './result.ts';

/** The RP as the sign-in pages show it: its name, its logo (if the operator gave one), its home page. */
export interface ShownClient {
  id: string;
  name: string | null;
  /** Hash of its logo, which kapu serves itself; null: no logo. */
  logoSha256: string | null;
  /** Its client_uri, an http(s) URL; null: none. */
  homepage: string | null;
}

/** The sign-in as its pages need it: who asks, in which language, and what is on screen. */
export interface Shown {
  uid: string;
  /** The account the sign-in has identified, if any (for the request's log line). */
  accountId: string | null;
  lang: Lang;
  /** The RP that asked; null at the account portal. */
  client: ShownClient | null;
  /** Where the RP receives the result: forms on the page may end up at its origin. */
  redirectUri: string | undefined;
  page: SignInPage;
}

export type Outcome =
  /** Show the flow's current page (a GET). `notice` is a message carried over a redirect. */
  | { kind: 'show'; shown: Shown; notice: Notice | null }
  /** The step moved the flow on: the browser is sent to its page (post/redirect/get). */
  | { kind: 'advanced'; uid: string; notice: Notice | null }
  /**
   * The sign-in is over: the browser resumes at the provider, which answers the RP, or lands
   * at the portal with its new session. `shownOnce`: a törlőkód to show before going on.
   */
  | {
      kind: 'finished';
      returnTo: string;
      accountId: string | null;
      portalSession?: { token: string; expiresAt: Date };
      shownOnce?: Record<string, string>;
    }
  /** The step was refused: its page again (with what was typed, but never a password), saying why. */
  | { kind: 'refused'; refusal: Refusal; shown: Shown; notice: Notice }
  /** Not a sign-in step but the provider's consent prompt (handled by the consent route). */
  | { kind: 'consent'; uid: string }
  /** The request named something that does not exist here (an unknown method or factor). */
  | { kind: 'bad_request'; code: string }
  /** The sign-in is over already (a double click): resume where it ended. */
  | { kind: 'already_finished'; uid: string }
  /** A step posted that does not fit the flow's state (the Back button, a replayed form). */
  | { kind: 'wrong_step'; uid: string }
  /** The interaction is unknown or has expired. */
  | { kind: 'expired' };
