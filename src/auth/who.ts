/**
 * Who is asking: the one description of the person behind a request, for the sign-in core, the
 * portal, enrollment, recovery and the DÁP device API. Built from the request by the HTTP side
 * (src/interactions/request.ts, the portal's routes, the device API's routes).
 */
import type { Lang } from '../views.ts';

export interface Who {
  /** The client address (throttling per address and /64, audit). */
  ip: string;
  /** The language they read: the pages' (and so the mails sent meanwhile). */
  lang: Lang;
  /**
   * `lang` is a choice made in this sign-in (the language link): it outranks the RP's
   * ui_locales. Otherwise `lang` is what the browser prefers (a remembered choice, its
   * Accept-Language) and the RP's ui_locales come first.
   */
  langChosen?: boolean;
  /** The browser, in a few words ("Chrome 131, Linux"); never a full header. */
  browser: string | null;
  /** This browser's signed device cookie: it signed in to this account before. */
  device?: { accountId: string; id: string } | null;
}
