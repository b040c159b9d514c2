import { Subject, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import type { NetInterface } from './net-interface.js';
import type { NdpAutoconf, NdpLayer } from './ndp-layer.js';
import type { MldLayer } from './mld-layer.js';
import type { Ipv6Layer } from './ipv6-layer.js';
import { DeadlineTimer } from './deadline-timer.js';
import {
  SlaacMachine, type DefaultRouterInfo, type Ipv6AddressOrigin, type Ipv6AddressState, type OnLinkPrefixInfo, type SlaacAction,
  type SlaacAddressInfo, type SlaacConfig,
} from '../../src/ipv6/slaac.js';
import { Ipv6Addresses, eui64InterfaceId, formatIpv6, ipv6Equals, solicitedNodeAddress, stableInterfaceId, type Ipv6Addr } from '../../src/ipv6/address.js';
import type { NdpRedirect, NdpRouterAdvert } from '../../src/wire/ndp.js';
import { logger } from '../../src/log.js';

const log = logger('ipv6:autoconf');

/** Host routes from redirects kept per interface. */
const MAX_REDIRECT_ROUTES = 256;

/** An address change on an interface, as the stack's `inet6.changes$` reports it. */
export interface Ipv6AddressChange {
  readonly kind: 'added' | 'state' | 'removed';
  readonly address: Ipv6Addr;
  readonly prefixLength: number;
  readonly origin: Ipv6AddressOrigin;
  readonly state: Ipv6AddressState;
  /** For 'removed': why. */
  readonly reason?: 'duplicate' | 'expired';
}

export interface AutoconfOptions {
  readonly slaac: Readonly<Partial<SlaacConfig>>;
  /** How interface identifiers are made: RFC 7217 (with `secretKey`) or the MAC's EUI-64. */
  readonly linkLocal: 'stable' | 'eui64';
  readonly secretKey: Uint8Array;
  /** Honour redirects from the first hop with a host route (RFC 4861 8.3). */
  readonly acceptRedirects: boolean;
  /** Uniform in [0, 1) for the solicitation delays. Default Math.random. */
  readonly random?: () => number;
}

/**
 * IPv6 autoconfiguration of one interface (RFC 4862, RFC 4861 6.3): runs the pure SlaacMachine
 * on the stack's scheduler and carries out what it says.
 *
 * - addresses come and go on the NetInterface with their states (tentative ones are neither
 *   sources nor destinations), and each one's solicited-node group is joined through MLD
 *   before its first DAD probe;
 * - DAD probes and router solicitations leave by the NdpLayer, which in turn reports duplicates,
 *   router advertisements and redirects here (`NdpAutoconf`);
 * - the default router and the on-link prefixes become routes of the Ipv6Layer, the RA's
 *   timers go to the neighbour cache, its MTU to the interface;
 * - a router that neighbour unreachability detection gave up goes to the end of the list.
 */
export class AutoconfLayer implements NdpAutoconf {
  readonly machine: SlaacMachine;
  readonly #iface: NetInterface;
  readonly #ndp: NdpLayer;
  readonly #mld: MldLayer;
  readonly #ipv6: Ipv6Layer;
  readonly #scheduler: SchedulerLike;
  readonly #timer: DeadlineTimer;
  readonly #acceptRedirects: boolean;
  readonly #changes = new Subject<Ipv6AddressChange>();
  readonly #subscription: Subscription;

  constructor(iface: NetInterface, ndp: NdpLayer, mld: MldLayer, ipv6: Ipv6Layer, scheduler: SchedulerLike, options: AutoconfOptions) {
    this.#iface = iface;
    this.#ndp = ndp;
    this.#mld = mld;
    this.#ipv6 = ipv6;
    this.#scheduler = scheduler;
    this.#acceptRedirects = options.acceptRedirects;
    const idSource = options.linkLocal === 'eui64'
      ? (_prefix: Ipv6Addr, dadCounter: number) => (dadCounter === 0 ? eui64InterfaceId(iface.mac) : undefined)
      : (prefix: Ipv6Addr, dadCounter: number) => stableInterfaceId({ prefix, netIface: iface.name, dadCounter, secretKey: options.secretKey });
    this.machine = new SlaacMachine({ linkMtu: iface.mtu, ...options.slaac }, idSource, options.random);
    this.#timer = new DeadlineTimer(scheduler, (now) => this.#carryOut(this.machine.expire(now)));
    ndp.autoconf = this;
    // RFC 4861 6.3.6: a router NUD declared unreachable is chosen last.
    this.#subscription = ndp.changes$.subscribe((c) => {
      if (c.kind === 'removed' && c.reason === 'unreachable' && c.entry.isRouter) this.#carryOut(this.machine.routerUnreachable(c.entry.ip));
    });
  }

  /** The interface comes up: ff02::1 joined, the link-local and static addresses tentative, DAD and RS scheduled. */
  start(): void {
    this.#mld.join(Ipv6Addresses.ALL_NODES);
    const statics = this.#iface.ipv6Addresses.filter((a) => a.origin === 'static').map((a) => ({ address: a.address, prefixLength: a.prefixLength }));
    this.#carryOut(this.machine.start(this.#scheduler.now(), statics));
  }

  /** Address changes as they happen. */
  get changes$(): Observable<Ipv6AddressChange> {
    return this.#changes.asObservable();
  }

  addresses(): SlaacAddressInfo[] {
    return this.machine.addresses();
  }

  routers(): DefaultRouterInfo[] {
    return this.machine.routers();
  }

  prefixes(): OnLinkPrefixInfo[] {
    return this.machine.prefixes();
  }

  close(): void {
    this.#timer.close();
    this.#subscription.unsubscribe();
    this.#changes.complete();
    if (this.#ndp.autoconf === this) this.#ndp.autoconf = undefined;
  }

  // -- NdpAutoconf ----------------------------------------------------------------------------

  duplicate(target: Ipv6Addr): void {
    this.#carryOut(this.machine.duplicate(target, this.#scheduler.now()));
  }

  routerAdvert(ra: NdpRouterAdvert, src: Ipv6Addr): void {
    this.#carryOut(this.machine.routerAdvert(ra, src, this.#scheduler.now()));
  }

  /**
   * RFC 4861 8.1 and 8.3: a redirect is taken only when accepted by configuration and sent by
   * the first hop we use for its destination; it becomes a host route to the target (the
   * destination itself when the target is the destination: it is on-link).
   */
  redirect(rd: NdpRedirect, src: Ipv6Addr): boolean {
    if (!this.#acceptRedirects) return false;
    const route = this.#ipv6.routeFor(rd.destination);
    if (!('iface' in route) || route.iface !== this.#iface || !ipv6Equals(route.nextHop, src)) return false;
    const onLink = ipv6Equals(rd.target, rd.destination);
    // Bounded: a router sending redirects for ever more destinations costs at most this many routes (oldest go first).
    const mine = this.#ipv6.routes.entries().filter((r) => r.origin === 'redirect' && r.interfaceIndex === this.#iface.index);
    if (mine.length >= MAX_REDIRECT_ROUTES && !mine.some((r) => ipv6Equals(r.destination, rd.destination))) {
      const oldest = mine[0];
      this.#ipv6.routes.remove((r) => r === oldest);
    }
    this.#ipv6.routes.add({
      destination: rd.destination.slice(), prefixLength: 128, gateway: onLink ? undefined : rd.target.slice(), interfaceIndex: this.#iface.index, origin: 'redirect',
    });
    if (log.enabled) log('%s: redirect for %s to %s', this.#iface.name, formatIpv6(rd.destination), formatIpv6(rd.target));
    return true;
  }

  // -- internals ------------------------------------------------------------------------------

  #carryOut(actions: readonly SlaacAction[]): void {
    const iface = this.#iface;
    for (const a of actions) {
      switch (a.kind) {
        case 'add-address': {
          // Join the solicited-node group first (RFC 4862 5.4.2): another node's probe must reach us.
          this.#mld.join(solicitedNodeAddress(a.address));
          const entry = iface.ipv6AddressAt(a.address) ?? iface.addIpv6Address(a.address, a.prefixLength, a.origin, 'tentative');
          entry.state = 'tentative';
          this.#changes.next({ kind: 'added', address: a.address.slice(), prefixLength: a.prefixLength, origin: a.origin, state: 'tentative' });
          break;
        }
        case 'address-state': {
          const entry = iface.ipv6AddressAt(a.address);
          if (entry === undefined) break;
          entry.state = a.state;
          if (log.enabled) log('%s: %s %s', iface.name, formatIpv6(a.address), a.state);
          this.#changes.next({ kind: 'state', address: a.address.slice(), prefixLength: entry.prefixLength, origin: entry.origin, state: a.state });
          break;
        }
        case 'remove-address': {
          const entry = iface.removeIpv6Address(a.address);
          if (entry === undefined) break;
          this.#mld.leave(entry.solicitedNode);
          if (log.enabled) log('%s: %s removed (%s)', iface.name, formatIpv6(a.address), a.reason);
          const state: Ipv6AddressState = a.reason === 'duplicate' ? 'duplicate' : entry.state;
          this.#changes.next({ kind: 'removed', address: a.address.slice(), prefixLength: entry.prefixLength, origin: entry.origin, state, reason: a.reason });
          break;
        }
        case 'dad-solicit':
          this.#ndp.sendDadProbe(a.target);
          break;
        case 'router-solicit':
          this.#ndp.sendRouterSolicit(a.src);
          break;
        case 'default-router':
          this.#ipv6.setDefaultRouter(iface, a.router);
          break;
        case 'on-link':
          this.#ipv6.setOnLinkPrefix(iface, a.prefix, a.prefixLength, a.present);
          break;
        case 'neighbor-timers':
          this.#ndp.cache.setTimers(a.reachableTimeMs, a.retransTimerMs);
          break;
        case 'mtu':
          iface.ipv6Mtu = a.mtu;
          break;
      }
    }
    this.#timer.set(this.machine.nextDeadline());
  }
}
