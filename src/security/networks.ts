/**
 * Where a request came from, roughly, for the citizen's eyes (the phone app's approval screen,
 * the new-browser mail). kapu has no location database: it names the network instead — the
 * address without its last part (an IPv4 /24, an IPv6 /48), written the standard way (CIDR;
 * IPv6 compressed as RFC 5952 says) — or "a local network" for loopback and private addresses,
 * which say nothing about a place and would only puzzle ("::1::/48").
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

export type Network = { local: true } | { local: false; network: string };

const LOCAL = new BlockList();
LOCAL.addSubnet('127.0.0.0', 8, 'ipv4');
LOCAL.addSubnet('10.0.0.0', 8, 'ipv4');
LOCAL.addSubnet('172.16.0.0', 12, 'ipv4');
LOCAL.addSubnet('192.168.0.0', 16, 'ipv4');
LOCAL.addSubnet('169.254.0.0', 16, 'ipv4');
LOCAL.addAddress('::1', 'ipv6');
LOCAL.addSubnet('fc00::', 7, 'ipv6');
LOCAL.addSubnet('fe80::', 10, 'ipv6');

/** The network of `ip`, or null when it is no address (or none is known). */
export function networkOf(ip: string | null | undefined): Network | null {
  if (!ip) return null;
  const address = ip.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const v4 = mapped ?? (isIPv4(address) ? address : undefined);
  if (v4 !== undefined) {
    if (!isIPv4(v4)) return null;
    if (LOCAL.check(v4, 'ipv4')) return { local: true };
    return { local: false, network: `${v4.split('.').slice(0, 3).join('.')}.0/24` };
  }
  if (!isIPv6(address)) return null;
  if (LOCAL.check(address, 'ipv6')) return { local: true };
  const groups = expand(address);
  return groups && { local: false, network: `${compress([...groups.slice(0, 3), 0, 0, 0, 0, 0])}/48` };
}

/** The eight 16-bit groups of an IPv6 address (a dotted IPv4 tail counts as two). */
function expand(address: string): number[] | null {
  const halves = address.toLowerCase().split('::');
  const part = (s: string | undefined): number[] =>
    s
      ? s.split(':').flatMap((g) => {
          if (!g.includes('.')) return [parseInt(g, 16)];
          const [a = 0, b = 0, c = 0, d = 0] = g.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        })
      : [];
  const head = part(halves[0]);
  const tail = part(halves[1]);
  const all = halves.length === 2 ? [...head, ...Array<number>(8 - head.length - tail.length).fill(0), ...tail] : head;
  return all.length === 8 && all.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? all : null;
}

/** RFC 5952: lower-case hex without leading zeros; the longest run of two or more zero groups (the first of equals) becomes "::". */
function compress(groups: number[]): string {
  let best = { start: -1, length: 1 };
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j += 1;
    if (j - i > best.length) best = { start: i, length: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.start < 0) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`;
}
