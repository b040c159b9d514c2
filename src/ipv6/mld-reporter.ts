/**
 * The host side of Multicast Listener Discovery on one interface (RFC 3810 6, with the MLDv1
 * compatibility of 8.2.1): which groups we listen to, and when to say so. Pure like the other
 * cores: `now` (ms) in, what to send out; the wiring (streams/stack/mld-layer.ts) builds the
 * messages with src/wire/mld.ts and sends them with hop limit 1 and a Router Alert option.
 *
 *   join(group, now) / leave(group, now)   reference counted (two addresses may share a
 *                                          solicited-node group); the first join and the last
 *                                          leave are state changes
 *   query(q, now)                          a valid query: answered after a random delay
 *   expire(now)                            when nextDeadline() comes: the reports due
 *
 * State changes are reported `robustness` times (RFC 3810 6.1: the first as soon as the timer
 * runs, then at random delays up to the Unsolicited Report Interval), as CHANGE_TO_EXCLUDE with
 * no sources for a join (listen to every source) and CHANGE_TO_INCLUDE with no sources for a
 * leave. A general query is answered with one current-state record (MODE_IS_EXCLUDE, no
 * sources) per group, split across reports of at most `maxRecordsPerReport` records; a
 * group-specific query (with or without sources: our filter is "exclude nothing", so the answer
 * is the same) with that group's record. After an MLDv1 query we speak MLDv1 (reports to the
 * group, done to ff02::2) for the Older Version Querier Present Timeout.
 *
 * Never reported (RFC 3810 6): ff02::1, and groups of interface-local or reserved scope.
 */

import { IPV6_ADDR_LEN, Ipv6Addresses, ipv6Equals, isIpv6Unspecified, type Ipv6Addr } from './address.js';
import { Ipv6AddressMap } from './address-map.js';
import { MldRecordType, type MldQuery, type MldRecord } from '../wire/mld.js';

/** Times in ms. Defaults: RFC 3810 9. */
export interface MldReporterConfig {
  /** Robustness Variable: state changes are sent this many times. Default 2. */
  robustness: number;
  /** Unsolicited Report Interval. Default 1000. */
  unsolicitedReportIntervalMs: number;
  /** Query Interval assumed for the MLDv1 timeout (an MLDv1 query carries none). Default 125 000. */
  queryIntervalMs: number;
  /** Query Response Interval, likewise. Default 10 000. */
  queryResponseIntervalMs: number;
  /** Records per report: (1280 - 40 IPv6 - 8 hop-by-hop - 8 report header) / 20 = 61 fit the minimum MTU. Default 61. */
  maxRecordsPerReport: number;
  /** Groups joined at most (user joins come later; a bound all the same). Default 256. */
  maxGroups: number;
}

export const MLD_REPORTER_DEFAULTS: Readonly<MldReporterConfig> = Object.freeze({
  robustness: 2,
  unsolicitedReportIntervalMs: 1_000,
  queryIntervalMs: 125_000,
  queryResponseIntervalMs: 10_000,
  maxRecordsPerReport: 61,
  maxGroups: 256,
});

export type MldAction =
  /** An MLDv2 report to ff02::16. */
  | { readonly kind: 'report'; readonly records: readonly MldRecord[] }
  /** An MLDv1 report, sent to the group itself. */
  | { readonly kind: 'v1-report'; readonly group: Ipv6Addr }
  /** An MLDv1 done, sent to ff02::2. */
  | { readonly kind: 'v1-done'; readonly group: Ipv6Addr };

export interface MldReporterCounters {
  stateChangeReports: number;
  queryReports: number;
  queries: number;
  /** Queries about groups we are not in. */
  queriesIgnored: number;
  v1Queries: number;
  /** Joins refused because maxGroups were joined. */
  tableFull: number;
}

interface Group {
  readonly address: Ipv6Addr;
  refs: number;
  readonly reported: boolean;
}

interface PendingChange {
  readonly group: Ipv6Addr;
  /** CHANGE_TO_EXCLUDE (join) or CHANGE_TO_INCLUDE (leave). */
  type: number;
  remaining: number;
}

const NO_SOURCES: readonly Ipv6Addr[] = Object.freeze([]);

/** True for groups MLD reports: not ff02::1, and of link scope or wider (RFC 3810 6). */
export function isReportedGroup(group: Ipv6Addr): boolean {
  if (ipv6Equals(group, Ipv6Addresses.ALL_NODES)) return false;
  return (group[1] & 0x0f) >= 2;
}

export class MldReporter {
  readonly config: MldReporterConfig;
  readonly counters: MldReporterCounters = { stateChangeReports: 0, queryReports: 0, queries: 0, queriesIgnored: 0, v1Queries: 0, tableFull: 0 };

  readonly #random: () => number;
  readonly #groups = new Ipv6AddressMap<Group>();
  /** State changes still to be sent, by group. */
  readonly #changes = new Ipv6AddressMap<PendingChange>();
  #changeAt = Infinity;
  /** A pending answer to a general query. */
  #generalAt = Infinity;
  /** Pending answers to group-specific queries. */
  readonly #groupAnswers = new Ipv6AddressMap<number>();
  /** MLDv1 compatibility mode until then (RFC 3810 8.2.1). */
  #v1Until = -Infinity;

  constructor(config: Readonly<Partial<MldReporterConfig>> = {}, random: () => number = Math.random) {
    this.config = { ...MLD_REPORTER_DEFAULTS, ...config };
    this.#random = random;
  }

  /** Listens to `group` (reference counted). False when maxGroups are joined already. */
  join(group: Ipv6Addr, now: number): boolean {
    const g = this.#groups.get(group);
    if (g !== undefined) {
      g.refs++;
      return true;
    }
    if (this.#groups.size >= this.config.maxGroups) {
      this.counters.tableFull++;
      return false;
    }
    const address = group.slice(0, IPV6_ADDR_LEN);
    const reported = isReportedGroup(address);
    this.#groups.set(address, { address, refs: 1, reported });
    if (reported) this.#change(address, MldRecordType.CHANGE_TO_EXCLUDE, now);
    return true;
  }

  /** Drops one reference to `group`; the last one leaves it. True when it was left. */
  leave(group: Ipv6Addr, now: number): boolean {
    const g = this.#groups.get(group);
    if (g === undefined) return false;
    if (--g.refs > 0) return false;
    this.#groups.delete(group);
    this.#groupAnswers.delete(group);
    if (g.reported) this.#change(g.address, MldRecordType.CHANGE_TO_INCLUDE, now);
    return true;
  }

  isMember(group: Ipv6Addr, offset = 0): boolean {
    return this.#groups.has(group, offset);
  }

  /** The groups joined (copies). */
  groups(): Ipv6Addr[] {
    return [...this.#groups.values()].map((g) => g.address.slice());
  }

  /** True while an MLDv1 querier was heard within the Older Version Querier Present Timeout. */
  v1Mode(now: number): boolean {
    return now < this.#v1Until;
  }

  /**
   * A query received (its source already checked link-local by the wiring, RFC 3810 5.1.14):
   * the answer is scheduled at a random time within its maximum response delay (RFC 3810 6.2).
   */
  query(q: MldQuery, now: number): void {
    this.counters.queries++;
    if (q.version === 1) {
      this.counters.v1Queries++;
      this.#v1Until = now + this.config.robustness * this.config.queryIntervalMs + this.config.queryResponseIntervalMs;
    }
    const at = now + Math.floor(this.#random() * q.maxResponseDelayMs);
    if (isIpv6Unspecified(q.group)) {
      // 6.2 rule 1: an earlier pending general answer stands.
      if (at < this.#generalAt) this.#generalAt = at;
      return;
    }
    const g = this.#groups.get(q.group);
    if (g === undefined || !g.reported) {
      this.counters.queriesIgnored++;
      return;
    }
    // 6.2 rules 1 and 3: a general answer due sooner covers it; an earlier group answer stands.
    if (this.#generalAt <= at) return;
    const pending = this.#groupAnswers.get(q.group);
    if (pending === undefined || at < pending) this.#groupAnswers.set(g.address, at);
  }

  /** The reports due at `now`. */
  expire(now: number): MldAction[] {
    const actions: MldAction[] = [];
    const v1 = this.v1Mode(now);
    if (now >= this.#changeAt) {
      const records: MldRecord[] = [];
      for (const c of [...this.#changes.values()]) {
        c.remaining--;
        if (c.remaining <= 0) this.#changes.delete(c.group);
        if (v1) actions.push(c.type === MldRecordType.CHANGE_TO_EXCLUDE ? { kind: 'v1-report', group: c.group } : { kind: 'v1-done', group: c.group });
        else records.push({ type: c.type, group: c.group, sources: NO_SOURCES });
      }
      this.#pushReports(records, actions);
      this.counters.stateChangeReports++;
      this.#changeAt = this.#changes.size > 0 ? now + Math.floor(this.#random() * this.config.unsolicitedReportIntervalMs) : Infinity;
    }
    if (now >= this.#generalAt) {
      this.#generalAt = Infinity;
      this.#groupAnswers.clear();
      this.counters.queryReports++;
      const records: MldRecord[] = [];
      for (const g of this.#groups.values()) {
        if (!g.reported) continue;
        if (v1) actions.push({ kind: 'v1-report', group: g.address });
        else records.push({ type: MldRecordType.MODE_IS_EXCLUDE, group: g.address, sources: NO_SOURCES });
      }
      this.#pushReports(records, actions);
    }
    const due: MldRecord[] = [];
    for (const [group, at] of [...this.#groupAnswers.entries()]) {
      if (now < at) continue;
      this.#groupAnswers.delete(group);
      this.counters.queryReports++;
      if (v1) actions.push({ kind: 'v1-report', group: group.slice() });
      else due.push({ type: MldRecordType.MODE_IS_EXCLUDE, group: group.slice(), sources: NO_SOURCES });
    }
    this.#pushReports(due, actions);
    return actions;
  }

  nextDeadline(): number | undefined {
    let next = Math.min(this.#changeAt, this.#generalAt);
    for (const at of this.#groupAnswers.values()) next = Math.min(next, at);
    return next === Infinity ? undefined : next;
  }

  /** A join or leave: (re)starts its robustness count and runs the change timer now. */
  #change(group: Ipv6Addr, type: number, now: number): void {
    const c = this.#changes.get(group);
    if (c !== undefined) {
      c.type = type;
      c.remaining = this.config.robustness;
    } else {
      this.#changes.set(group, { group, type, remaining: this.config.robustness });
    }
    // Batched: joins made together (an interface coming up) go out in one report.
    if (now < this.#changeAt) this.#changeAt = now;
  }

  #pushReports(records: MldRecord[], actions: MldAction[]): void {
    const per = this.config.maxRecordsPerReport;
    for (let i = 0; i < records.length; i += per) actions.push({ kind: 'report', records: records.slice(i, i + per) });
  }
}
