import type { SchedulerLike } from 'rxjs';
import type { Ipv6Datagram } from './ipv6-layer.js';
import type { NetInterface } from './net-interface.js';
import { isAssigned } from './net-interface.js';
import type { NdpLayer } from './ndp-layer.js';
import type { EthernetLayer } from './ethernet-layer.js';
import { DeadlineTimer } from './deadline-timer.js';
import { MldReporter, type MldAction, type MldReporterConfig } from '../../src/ipv6/mld-reporter.js';
import { MLD_HOP_LIMIT, MLDV1_MESSAGE_LEN, emitMldReport, emitMldV1, mldReportLen, parseMldQuery } from '../../src/wire/mld.js';
import { Icmpv6Type } from '../../src/wire/icmpv6.js';
import { Ipv6OptionType } from '../../src/wire/ipv6-ext.js';
import { emitIpv6Header, IPV6_HEADER_LEN, Ipv6NextHeader } from '../../src/wire/ipv6.js';
import { Ipv6Addresses, formatIpv6, ipv6MulticastMac, isIpv6LinkLocal, type Ipv6Addr } from '../../src/ipv6/address.js';
import { macKey } from '../../src/mac.js';
import { PacketBuffer } from '../../src/packet-buffer.js';
import { createCounters, countDrop } from '../../src/stats.js';
import { logger } from '../../src/log.js';

const log = logger('mld');

export const MLD_DROP_REASONS = ['notMld', 'truncated', 'badHopLimit', 'badCode', 'badRecord', 'badQuerySource'] as const;

function createMldCounters() {
  return createCounters(['rxQueries', 'rxReports', 'txReports', 'txV1Reports', 'txV1Done', 'joins', 'leaves'], MLD_DROP_REASONS);
}
export type MldCounters = ReturnType<typeof createMldCounters>;

/** The 8-byte hop-by-hop header every MLD message carries: a Router Alert (value 0: MLD) and 2 bytes of padding (RFC 3810 5, RFC 2711). */
const HOP_BY_HOP_LEN = 8;

/**
 * MLD on one interface (RFC 3810 for hosts): the groups the interface listens to, announced to
 * routers and snooping switches with reports, so that neighbour solicitations for our
 * addresses reach us through a switch that snoops MLD. Runs the pure MldReporter on the
 * stack's scheduler; joining a group also opens the Ethernet filter for its 33:33 MAC.
 *
 * Reports leave like NDP messages, by the interface's NdpLayer (multicast needs no
 * resolution), with hop limit 1, a hop-by-hop Router Alert, and our link-local address as the
 * source, or :: while it is tentative (RFC 3810 5.2.13). Queries come in through ICMPv6; a
 * query from a source that is not link-local is dropped (RFC 3810 5.1.14).
 */
export class MldLayer {
  readonly counters = createMldCounters();
  readonly reporter: MldReporter;
  readonly #iface: NetInterface;
  readonly #ndp: NdpLayer;
  readonly #ethernet: EthernetLayer;
  readonly #scheduler: SchedulerLike;
  readonly #timer: DeadlineTimer;

  constructor(iface: NetInterface, ndp: NdpLayer, ethernet: EthernetLayer, scheduler: SchedulerLike, config: Readonly<Partial<MldReporterConfig>> = {}) {
    this.#iface = iface;
    this.#ndp = ndp;
    this.#ethernet = ethernet;
    this.#scheduler = scheduler;
    this.reporter = new MldReporter(config);
    this.#timer = new DeadlineTimer(scheduler, (now) => {
      this.#carryOut(this.reporter.expire(now));
      this.#rearm();
    });
  }

  /** Listens to `group` (reference counted): the Ethernet filter opens, and routers hear of it. */
  join(group: Ipv6Addr): void {
    const now = this.#scheduler.now();
    const before = this.reporter.isMember(group);
    if (!this.reporter.join(group, now)) return;
    if (!before) {
      this.counters.joins++;
      this.#ethernet.multicast.add(macKey(ipv6MulticastMac(group)));
    }
    this.#rearm();
  }

  /** Drops one reference to `group`; the last one closes the filter and tells routers. */
  leave(group: Ipv6Addr): void {
    if (!this.reporter.leave(group, this.#scheduler.now())) return;
    this.counters.leaves++;
    this.#ethernet.multicast.delete(macKey(ipv6MulticastMac(group)));
    this.#rearm();
  }

  /** An MLD message (the whole ICMPv6 message, checksum verified) received on this interface. */
  input(d: Ipv6Datagram): void {
    const type = d.payload[0];
    if (type !== Icmpv6Type.MLD_QUERY) {
      this.counters.rxReports++; // other listeners' reports: nothing for a host to do (RFC 3810 6 has no suppression)
      return;
    }
    this.counters.rxQueries++;
    if (!isIpv6LinkLocal(d.src)) {
      this.counters.drops.badQuerySource++;
      return;
    }
    const q = parseMldQuery(d.payload, d.hopLimit);
    if (!q.ok) {
      countDrop(this.counters, q.reason);
      return;
    }
    this.reporter.query(q.value, this.#scheduler.now());
    this.#rearm();
  }

  close(): void {
    this.#timer.close();
  }

  #rearm(): void {
    this.#timer.set(this.reporter.nextDeadline());
  }

  #carryOut(actions: readonly MldAction[]): void {
    if (actions.length === 0) return;
    const ll = this.#iface.ipv6Addresses.find((a) => a.linkLocal && isAssigned(a));
    const src = ll?.address ?? Ipv6Addresses.UNSPECIFIED;
    for (const a of actions) {
      const dst = a.kind === 'report' ? Ipv6Addresses.ALL_MLDV2_ROUTERS : a.kind === 'v1-report' ? a.group : Ipv6Addresses.ALL_ROUTERS;
      const len = a.kind === 'report' ? mldReportLen(a) : MLDV1_MESSAGE_LEN;
      const pb = PacketBuffer.alloc(0, 14 + IPV6_HEADER_LEN + HOP_BY_HOP_LEN + len);
      if (a.kind === 'report') {
        emitMldReport(a, pb, { src, dst });
        this.counters.txReports++;
      } else {
        emitMldV1({ type: a.kind === 'v1-report' ? Icmpv6Type.MLDV1_REPORT : Icmpv6Type.MLDV1_DONE, group: a.group }, pb, { src, dst });
        if (a.kind === 'v1-report') this.counters.txV1Reports++;
        else this.counters.txV1Done++;
      }
      const at = pb.prepend(HOP_BY_HOP_LEN);
      const b = pb.buf;
      b[at] = Ipv6NextHeader.ICMPV6;
      b[at + 1] = 0; // 8 bytes in all
      b[at + 2] = Ipv6OptionType.ROUTER_ALERT;
      b[at + 3] = 2;
      b[at + 4] = 0; // value 0: the datagram holds an MLD message
      b[at + 5] = 0;
      b[at + 6] = 1; // PadN of 0 bytes of data
      b[at + 7] = 0;
      emitIpv6Header({ src, dst, nextHeader: Ipv6NextHeader.HOP_BY_HOP, hopLimit: MLD_HOP_LIMIT }, pb);
      if (log.enabled) log('%s: %s to %s', this.#iface.name, a.kind, formatIpv6(dst));
      this.#ndp.sendIpv6(dst, pb);
    }
  }
}
