/**
 * Server-rendered pages and mails: Eta templates in views/, text in views/locales/<lang>.json.
 * A factor brings its own page parts and words from its folder (`ViewParts`): its templates
 * are named `@<id>/<file>` and its locale keys are merged in (a key defined twice is an error).
 * Hungarian is the default language; English is complete.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';

export const LANGUAGES = ['hu', 'en'] as const;
export type Lang = (typeof LANGUAGES)[number];
export const DEFAULT_LANG: Lang = 'hu';

const VIEWS_DIR = fileURLToPath(new URL('../views/', import.meta.url));

type Messages = Record<string, string>;

const DATE_TIME: Record<Lang, Intl.DateTimeFormat> = {
  hu: new Intl.DateTimeFormat('hu-HU', { dateStyle: 'long', timeStyle: 'short', timeZone: 'Europe/Budapest' }),
  en: new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeStyle: 'short', timeZone: 'Europe/Budapest' }),
};

const DATE: Record<Lang, Intl.DateTimeFormat> = {
  hu: new Intl.DateTimeFormat('hu-HU', { dateStyle: 'long', timeZone: 'Europe/Budapest' }),
  en: new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeZone: 'Europe/Budapest' }),
};

export function isLang(value: unknown): value is Lang {
  return typeof value === 'string' && (LANGUAGES as readonly string[]).includes(value);
}

/** First supported language in a space-separated list such as OIDC's ui_locales. */
export function pickLang(...candidates: Array<string | undefined | null>): Lang | undefined {
  for (const candidate of candidates) {
    for (const tag of (candidate ?? '').split(/[\s,]+/)) {
      const base = tag.split(/[-_]/)[0]?.toLowerCase();
      if (isLang(base)) return base;
    }
  }
  return undefined;
}

export type Translate = (key: string, vars?: Record<string, string | number>) => string;

/** What every page's footer shows: who runs this kapu, and its help, privacy and contact pages. */
export interface Site {
  operator: string;
  helpUrl: string | null;
  privacyUrl: string | null;
  contactUrl: string | null;
}

const NO_SITE: Site = { operator: 'kapu', helpUrl: null, privacyUrl: null, contactUrl: null };

/** A folder that brings templates (`views/*.eta`) and words (`locales/<lang>.json`): a factor's. */
export interface ViewParts {
  /** The templates' prefix: `@<id>/<file>`. */
  id: string;
  folder: URL;
}

function readMessages(file: string | URL): Messages {
  return JSON.parse(readFileSync(file, 'utf8')) as Messages;
}

export class Views {
  readonly #site: Site;
  readonly #eta = new Eta({ views: VIEWS_DIR, autoEscape: true, cache: true, autoTrim: false });
  readonly #messages: Record<Lang, Messages>;

  constructor(site: Site = NO_SITE, parts: readonly ViewParts[] = []) {
    this.#site = site;
    this.#messages = Object.fromEntries(LANGUAGES.map((lang) => [lang, readMessages(`${VIEWS_DIR}locales/${lang}.json`)])) as Record<Lang, Messages>;
    for (const part of parts) this.#add(part);
  }

  #add({ id, folder }: ViewParts): void {
    for (const lang of LANGUAGES) {
      const file = new URL(`locales/${lang}.json`, folder);
      if (!existsSync(file)) continue;
      for (const [key, text] of Object.entries(readMessages(file))) {
        if (key in this.#messages[lang]) throw new Error(`message "${key}" of ${id} is defined twice`);
        this.#messages[lang][key] = text;
      }
    }
    const dir = new URL('views/', folder);
    if (!existsSync(dir)) return;
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.eta'))) {
      this.#eta.loadTemplate(`@${id}/${file.slice(0, -'.eta'.length)}`, readFileSync(new URL(file, dir), 'utf8'));
    }
  }

  translator(lang: Lang): Translate {
    const messages = this.#messages[lang];
    const fallback = this.#messages[DEFAULT_LANG];
    return (key, vars) => {
      const template = messages[key] ?? fallback[key];
      if (template === undefined) throw new Error(`missing message "${key}"`);
      return vars ? template.replace(/\{(\w+)\}/g, (m, name: string) => String(vars[name] ?? m)) : template;
    };
  }

  /** Every message of `lang`, kapu's and the factors' (for tests that read the words a page says). */
  messages(lang: Lang): Readonly<Messages> {
    return this.#messages[lang];
  }

  /** Is there a message `key` (in the default language, which every key has)? */
  has(key: string): boolean {
    return key in this.#messages[DEFAULT_LANG];
  }

  /** A day as people of `lang` write it ("2027. január 16.", "16 January 2027"), in Hungary's time zone. */
  date(lang: Lang): (date: Date) => string {
    return DATE[lang].format.bind(DATE[lang]);
  }

  /** A date and time as people of `lang` write it, in Hungary's time zone. */
  dateTime(lang: Lang): (date: Date) => string {
    return DATE_TIME[lang].format.bind(DATE_TIME[lang]);
  }

  /** Renders views/<name>.eta (or a factor's `@<id>/<name>`); `t`, `dateTime` and `lang` are always available to the template. */
  render(name: string, lang: Lang, data: Record<string, unknown>): string {
    return this.#eta.render(name, { ...data, lang, site: this.#site, t: this.translator(lang), dateTime: this.dateTime(lang) });
  }
}
