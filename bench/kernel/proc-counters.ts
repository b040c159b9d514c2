/**
 * Linux's TCP counters of one network namespace, read from /proc/net/snmp and /proc/net/netstat
 * inside it, under the names `nstat` prints (TcpRetransSegs, TcpExtTCPTimeouts...).
 *
 * Read directly rather than with `nstat`: nstat keeps its "since last time" history in one file
 * per user, shared by every namespace, so two namespaces (or two runs) would disturb each other.
 * A namespace made for one benchmark connection has no other TCP traffic, so the difference of
 * two readings is that connection's.
 */
import type { Netns } from './netns.js';

export type ProcCounters = Readonly<Record<string, number>>;

/**
 * Parses the "Proto: name name ...\nProto: value value ..." line pairs of /proc/net/snmp and
 * /proc/net/netstat into `ProtoName` keys. Lines that do not pair up are ignored.
 */
export function parseProcCounters(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  const lines = text.split('\n').filter((l) => l.includes(':'));
  for (let i = 0; i + 1 < lines.length; i++) {
    const [proto, namesText] = splitProto(lines[i]);
    const [proto2, valuesText] = splitProto(lines[i + 1]);
    if (proto !== proto2) continue;
    const names = namesText.trim().split(/\s+/);
    const values = valuesText.trim().split(/\s+/);
    // A header line is names; the line after it with the same prefix is numbers.
    if (names.length !== values.length || !values.every((v) => /^-?\d+$/.test(v))) continue;
    names.forEach((name, k) => {
      out[`${proto}${name}`] = Number(values[k]);
    });
    i++;
  }
  return out;
}

function splitProto(line: string): [string, string] {
  const colon = line.indexOf(':');
  return [line.slice(0, colon), line.slice(colon + 1)];
}

/** The namespace's counters now. */
export async function readProcCounters(ns: Netns): Promise<ProcCounters> {
  const r = await ns.exec('cat', ['/proc/net/snmp', '/proc/net/netstat'], 10_000);
  if (r.code !== 0) throw new Error(`reading /proc/net counters in ${ns.name}: ${r.stderr.trim()}`);
  return parseProcCounters(r.stdout);
}

/** `after - before` for the named counters (0 for one missing on this kernel). */
export function counterDelta(before: ProcCounters, after: ProcCounters, names: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of names) out[n] = (after[n] ?? 0) - (before[n] ?? 0);
  return out;
}
