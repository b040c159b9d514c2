/**
 * The host's DNS resolvers, from resolv.conf(5): the `nameserver` lines, IPv4 ones only (the
 * namespace's DNS forwarder speaks to them over IPv4).
 */
import { readFileSync } from 'node:fs';
import { formatIpv4, parseIpv4 } from '../src/ipv4/address.js';

export const RESOLV_CONF = '/etc/resolv.conf';

/** IPv4 nameservers of `text` (the contents of a resolv.conf), in order. */
export function parseNameservers(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const [keyword, value] = line.trim().split(/\s+/);
    if (keyword !== 'nameserver' || value === undefined) continue;
    const address = parseIpv4(value);
    if (address !== undefined) out.push(formatIpv4(address));
  }
  return out;
}

/** The first IPv4 nameserver of `path`, or undefined when it has none or cannot be read. */
export function hostNameserver(path = RESOLV_CONF): string | undefined {
  try {
    return parseNameservers(readFileSync(path, 'utf8'))[0];
  } catch {
    return undefined;
  }
}
