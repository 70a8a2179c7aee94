/**
 * Relying parties' logos. kapu's pages load nothing from other hosts (CSP), and kapu never
 * fetches a URL it was given (that would let whoever sets `logo_uri` make kapu call inside the
 * network): the operator hands kapu the image itself (`client add|update --logo-file`), kapu keeps
 * it in the database and serves it from its own address.
 *
 * Only raster formats, judged by their first bytes, never by a file name: an SVG is a document
 * that can carry scripts and links, and kapu serves what it accepts under its own origin.
 */
import { createHash } from 'node:crypto';
import type { Repos } from '../db/repositories/index.ts';
import type { ClientLogoTable } from '../db/schema.ts';
import type { UnitOfWork } from '../db/unit-of-work.ts';

/** Enough for a crisp logo at the size the pages show it (a 64 px tall box, twice that on a phone). */
export const LOGO_MAX_BYTES = 64 * 1024;

export type LogoType = ClientLogoTable['content_type'];

export interface CheckedLogo {
  contentType: LogoType;
  bytes: Buffer;
  /** Hex SHA-256 of the bytes. */
  sha256: string;
}

/** An image kapu will not keep as a logo; the message says why, for an operator. */
export class LogoRefused extends Error {
  override name = 'LogoRefused';
}

const startsWith = (bytes: Uint8Array, offset: number, signature: number[] | string): boolean => {
  const expected = typeof signature === 'string' ? [...Buffer.from(signature, 'latin1')] : signature;
  return bytes.length >= offset + expected.length && expected.every((b, i) => bytes[offset + i] === b);
};

/** The format of `bytes` by its magic numbers, or null for anything else. */
export function logoType(bytes: Uint8Array): LogoType | null {
  // PNG: the 8-byte signature, then the IHDR chunk that must come first.
  if (startsWith(bytes, 0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) && startsWith(bytes, 12, 'IHDR')) return 'image/png';
  // JPEG: start-of-image, then the first marker.
  if (startsWith(bytes, 0, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  // WebP: a RIFF container of form WEBP, whose first chunk is one of WebP's three.
  if (startsWith(bytes, 0, 'RIFF') && startsWith(bytes, 8, 'WEBP') && ['VP8 ', 'VP8L', 'VP8X'].some((c) => startsWith(bytes, 12, c))) return 'image/webp';
  return null;
}

/** Is this (probably) an SVG document? Only to say so in the refusal. */
function looksLikeSvg(bytes: Uint8Array): boolean {
  const head = Buffer.from(bytes.subarray(0, 4096)).toString('utf8').replace(/^\uFEFF/, '').trimStart().toLowerCase();
  return head.startsWith('<') && head.includes('<svg');
}

/** Checks an operator's logo file; throws LogoRefused saying why it cannot be a logo. */
export function checkLogo(bytes: Uint8Array): CheckedLogo {
  if (bytes.length === 0) throw new LogoRefused('the logo file is empty');
  if (bytes.length > LOGO_MAX_BYTES) {
    throw new LogoRefused(`the logo is ${bytes.length} bytes; at most ${LOGO_MAX_BYTES} bytes (64 KiB) are accepted: make it smaller`);
  }
  const contentType = logoType(bytes);
  if (!contentType) {
    throw new LogoRefused(
      looksLikeSvg(bytes)
        ? 'the logo is an SVG image: only PNG, JPEG or WebP are accepted (an SVG can carry scripts): export it as PNG'
        : 'the logo is not a PNG, JPEG or WebP image (judged by its content, not its name)',
    );
  }
  return { contentType, bytes: Buffer.from(bytes), sha256: createHash('sha256').update(bytes).digest('hex') };
}

/**
 * Where kapu serves a client's logo. The hash in the query names this version of it: a new
 * logo has a new address, so browsers may keep each one for good.
 */
export function logoPath(clientId: string, sha256: string): string {
  return `${LOGO_ROUTE_PREFIX}/${encodeURIComponent(clientId)}/logo?v=${logoVersion(sha256)}`;
}

export const LOGO_ROUTE_PREFIX = '/clients';

/** The version in a logo's address: enough of its hash that two logos never share one in practice. */
export function logoVersion(sha256: string): string {
  return sha256.slice(0, 16);
}

/** Logos as the public route serves them. */
export class ClientLogos {
  readonly #uow: UnitOfWork<Repos>;
  constructor(uow: UnitOfWork<Repos>) {
    this.#uow = uow;
  }

  async find(clientId: string): Promise<CheckedLogo | undefined> {
    const row = await this.#uow.repos.clients.findLogo(clientId);
    // pg gives a Buffer, PGlite a Uint8Array: the same bytes either way.
    return row && { contentType: row.content_type, bytes: Buffer.from(row.bytes), sha256: row.sha256 };
  }
}
