/**
 * What the e2e tests of the second factor share: an authenticator app (codes computed with
 * otplib from the account's secret, at kapu's clock) and a few ways of reading a page as a
 * person does: fields by their label, buttons by their text.
 */
import { generate } from 'otplib';
import type { HTMLElement } from 'node-html-parser';
import type { Browser, Page } from './browser.ts';
import type { TestClock } from './clock.ts';

/** RFC 6238 time step, as kapu and every authenticator app use it. */
export const TOTP_PERIOD = 30;

/** The code an authenticator app shows now (or `steps` time steps away) by kapu's clock. */
export function appCode(secret: string, clock: TestClock, steps = 0): Promise<string> {
  const epoch = Math.floor(clock.now().getTime() / 1000) + steps * TOTP_PERIOD;
  return generate({ secret, epoch });
}

/** A six-digit code the app does not show at any step kapu would accept now (±1 step). */
export async function wrongAppCode(secret: string, clock: TestClock): Promise<string> {
  const valid = new Set(await Promise.all([-1, 0, 1].map((s) => appCode(secret, clock, s))));
  for (let n = 0; ; n += 1) {
    const candidate = String(n).padStart(6, '0');
    if (!valid.has(candidate)) return candidate;
  }
}

/**
 * Moves kapu's clock to the middle of a time step, so the few hundred milliseconds a test
 * takes between computing a code and kapu checking it never cross a step boundary.
 */
export function toMiddleOfStep(clock: TestClock): void {
  const intoStep = (clock.now().getTime() / 1000) % TOTP_PERIOD;
  clock.advance((TOTP_PERIOD + TOTP_PERIOD / 2 - intoStep) % TOTP_PERIOD);
}

/** The input a `<label>` with exactly this text points at, or undefined. */
export function fieldLabelled(page: Page, text: string): HTMLElement | undefined {
  const label = page.doc.querySelectorAll('label').find((l) => l.text.trim() === text);
  const id = label?.getAttribute('for');
  return id ? (page.doc.querySelector(`#${id}`) ?? undefined) : undefined;
}

/** The texts of the buttons in the form whose action ends with `actionSuffix`. */
export function buttonTexts(page: Page, actionSuffix: string): string[] {
  if (!page.hasForm(actionSuffix)) return [];
  return page
    .form(actionSuffix)
    .querySelectorAll('button')
    .map((b) => b.text.trim());
}

/** Presses the button with this text in the form whose action ends with `actionSuffix`. */
export function press(browser: Browser, page: Page, actionSuffix: string, text: string): Promise<Page> {
  const button = page
    .form(actionSuffix)
    .querySelectorAll('button')
    .find((b) => b.text.trim() === text);
  if (!button) throw new Error(`no button "${text}" in ${actionSuffix} on ${page.url.pathname}: ${page.visibleText.slice(0, 300)}`);
  const name = button.getAttribute('name');
  return browser.submit(page, actionSuffix, {}, name ? { name, value: button.getAttribute('value') ?? '' } : undefined);
}

/** A form POST to this page's interaction that no page offers (a tampered request). */
export function forgePost(browser: Browser, page: Page, step: string, fields: Record<string, string>): Promise<Response> {
  const uid = /^\/interaction\/([^/]+)/.exec(page.url.pathname)?.[1];
  if (!uid) throw new Error(`not an interaction page: ${page.url.pathname}`);
  const csrf = page.value('input[name="csrf"]') ?? '';
  return browser.post(`/interaction/${uid}/${step}`, new URLSearchParams({ csrf, ...fields }).toString());
}
