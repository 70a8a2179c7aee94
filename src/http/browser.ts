/**
 * A browser named in a few words ("Firefox 133, Linux"), for the citizen's list of sign-ins and
 * the mails that say where something happened. Never the whole User-Agent header: it is long,
 * made up by the client, and nothing to keep.
 */
import Bowser from 'bowser';

const MAX_LENGTH = 80;
/**
 * Names already worked out, by User-Agent: every sign-in page asks, and parsing one costs more
 * than the rest of the page's own work. A few hundred browsers make up most traffic; the map is
 * emptied when full, so made-up headers cannot make it grow.
 */
const known = new Map<string, string | null>();
const KNOWN_MAX = 500;

export function browserOf(userAgent: string | undefined): string | null {
  if (!userAgent || userAgent.length > 1024) return null;
  let name = known.get(userAgent);
  if (name === undefined) {
    if (known.size >= KNOWN_MAX) known.clear();
    name = nameOf(userAgent);
    known.set(userAgent, name);
  }
  return name;
}

function nameOf(userAgent: string): string | null {
  const parsed = Bowser.parse(userAgent);
  const name = parsed.browser.name;
  if (!name) return null;
  const major = parsed.browser.version?.split('.')[0];
  const os = parsed.os.name;
  // Only printable characters: the words go into pages and mails.
  return `${name}${major ? ` ${major}` : ''}${os ? `, ${os}` : ''}`.replace(/[^\p{L}\p{N} .,()/_-]/gu, '').slice(0, MAX_LENGTH);
}
