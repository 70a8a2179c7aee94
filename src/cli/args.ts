/**
 * Argument parsing for the admin CLI: node:util parseArgs in strict mode, with kapu's own
 * errors. A `UsageError` means "the command was given wrongly" (exit 2, nothing touched);
 * a `CliFailure` means "the command was right but could not be done" (exit 1).
 */
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { isNativeError } from 'node:util/types';

export class UsageError extends Error {
  override name = 'UsageError';
}

export class CliFailure extends Error {
  override name = 'CliFailure';
}

/** Ctrl-C at a prompt. */
export class Interrupted extends Error {
  override name = 'Interrupted';
}

/**
 * A password on the command line ends up in shell history and in every `ps` listing, so the
 * flag is refused outright, before anything else looks at the arguments. The value is never
 * echoed back.
 */
export function refusePasswordFlag(argv: string[]): void {
  for (const arg of argv) {
    if (arg === '--') return;
    if (/^--pass(word)?(=|$)/i.test(arg) || /^-p(=|$)/.test(arg)) {
      throw new UsageError(
        'passwords are never taken from the command line (they would end up in shell history and the process list): ' +
          'pipe the password on stdin or type it at the prompt',
      );
    }
  }
}

/**
 * Parses `args` of command `command` (for messages) against `options`, and checks the number
 * of positionals against `positionals` (their names, e.g. ['USERNAME']).
 */
export function parse<const O extends ParseArgsOptionsConfig>(command: string, args: string[], options: O, positionals: string[] = []) {
  let result;
  try {
    result = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (err) {
    // isNativeError, not instanceof: node's own errors come from another realm when the CLI
    // runs inside a test runner's sandbox.
    const message = isNativeError(err) ? err.message : String(err);
    // Keep node's first sentence ("Unknown option '--x'"); the rest is advice about `--`.
    throw new UsageError(`${command}: ${message.split('. To specify')[0]}`);
  }
  if (result.positionals.length !== positionals.length) {
    const expected = positionals.length === 0 ? 'no arguments besides options' : positionals.join(' ');
    throw new UsageError(`${command}: expects ${expected}`);
  }
  return { values: result.values, positionals: result.positionals };
}

/** A required string option: present and not blank. */
export function required(command: string, value: string | undefined, flag: string): string {
  if (value === undefined || value.trim() === '') throw new UsageError(`${command}: ${flag} is required`);
  return value;
}

/** An absolute http(s) URL (the provider checks the finer rules, e.g. no fragment). */
export function url(command: string, value: string, flag: string): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new UsageError(`${command}: ${flag} must be an absolute URL, got "${printable(value)}"`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new UsageError(`${command}: ${flag} must be an http(s) URL, got "${printable(value)}"`);
  }
  return value;
}

export function integer(command: string, value: string | undefined, flag: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`${command}: ${flag} must be a whole number from ${min} to ${max}`);
  }
  return Number(value);
}

/**
 * Text from the database or from arguments, made safe for a terminal: control characters
 * (which could move the cursor or rewrite earlier lines) are shown as \u escapes.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
