/**
 * IPv6 autoconfiguration of one interface (RFC 4862, RFC 4861 6.3, RFC 7217): the addresses with
 * their states, duplicate address detection, router solicitation, and what router
 * advertisements teach (default routers, on-link prefixes, autonomous prefixes, timers, MTU).
 * Pure like the neighbour cache: `now` (ms) comes in, actions go out, and the wiring
 * (streams/stack/autoconf-layer.ts) carries them out in the order given.
 *
 *   start(now, statics)              the interface comes up: its link-local address and the
 *                                    static ones become tentative; DAD and RS are scheduled
 *   duplicate(target, now)           an NA for one of our addresses, or another node's DAD NS
 *                                    (from ::) for a tentative one (RFC 4862 5.4.3, 5.4.4)
 *   routerAdvert(ra, src, now)       a valid RA (RFC 4861 6.3.4, RFC 4862 5.5.3)
 *   routerUnreachable(ip, now)       NUD gave the router up (RFC 4861 6.3.6: it goes last)
 *   expire(now)                      when nextDeadline() comes: DAD probes and completion,
 *                                    solicitations, lifetimes
 *
 * Actions:
 *   add-address      a new address, tentative (the wiring joins its solicited-node group first:
 *                    RFC 4862 5.4.2, so that another node's probe for it reaches us)
 *   address-state    tentative -> preferred (DAD passed), preferred <-> deprecated (lifetimes)
 *   remove-address   a duplicate (reason 'duplicate') or an address whose valid lifetime ended
 *   dad-solicit      send an NS from :: for `target` to its solicited-node group
 *   router-solicit   send an RS to ff02::2 from `src` (undefined: from ::, without a source
 *                    link-layer address option, while the link-local address is tentative)
 *   default-router   the router default routes go through changed (undefined: none left)
 *   on-link          a prefix became on-link (present) or stopped being so
 *   neighbor-timers  an RA's Reachable Time / Retrans Timer for the neighbour cache
 *   mtu              an RA's MTU option for the interface's IPv6 packets
 *
 * Address states (RFC 4862 2, 5.5.4): tentative (DAD running; not a source, not answered),
 * preferred, deprecated (kept for existing connections, not chosen as a source for new ones),
 * duplicate (DAD failed and no other identifier may be tried: listed, never used).
 */

import {
  IPV6_ADDR_LEN, addressFromPrefix, ipv6Equals, ipv6Network, isIpv6LinkLocal, linkLocalAddress, type Ipv6Addr,
} from './address.js';
import type { NdpPrefixInfo } from '../wire/ndp.js';

export type Ipv6AddressState = 'tentative' | 'preferred' | 'deprecated' | 'duplicate';
export type Ipv6AddressOrigin = 'link-local' | 'static' | 'slaac';

/** Times in ms. Defaults: the constants of RFC 4861 10 and RFC 7217 7. */
export interface SlaacConfig {
  /** DupAddrDetectTransmits: NS per address (0 disables DAD). Default 1. */
  dadTransmits: number;
  /** RetransTimer between DAD probes (an RA may change it). Default 1000. */
  retransTimerMs: number;
  /** Process router advertisements (and solicit them). Default true. */
  acceptRa: boolean;
  /** Form addresses from autonomous prefixes (RFC 4862 5.5.3). Default true. */
  slaac: boolean;
  /** MAX_RTR_SOLICITATIONS. Default 3. */
  maxRtrSolicitations: number;
  /** RTR_SOLICITATION_INTERVAL. Default 4000. */
  rtrSolicitationIntervalMs: number;
  /** MAX_RTR_SOLICITATION_DELAY: the random wait before the first RS and the first DAD probe. Default 1000. */
  maxRtrSolicitationDelayMs: number;
  /** RFC 7217 IDGEN_RETRIES: new identifiers tried after a duplicate. Default 3. */
  idgenRetries: number;
  /** RFC 7217 IDGEN_DELAY: wait before probing the next identifier. Default 1000. */
  idgenDelayMs: number;
  /** Default routers kept (a flood of RAs from strangers costs no more). Default 8. */
  maxRouters: number;
  /** On-link prefixes kept from RAs. Default 16. */
  maxPrefixes: number;
  /** Addresses formed by SLAAC. Default 16. */
  maxSlaacAddresses: number;
  /** The link's MTU: an RA's MTU option above it (or below 1280) is ignored. Default 1500. */
  linkMtu: number;
}

export const SLAAC_DEFAULTS: Readonly<SlaacConfig> = Object.freeze({
  dadTransmits: 1,
  retransTimerMs: 1_000,
  acceptRa: true,
  slaac: true,
  maxRtrSolicitations: 3,
  rtrSolicitationIntervalMs: 4_000,
  maxRtrSolicitationDelayMs: 1_000,
  idgenRetries: 3,
  idgenDelayMs: 1_000,
  maxRouters: 8,
  maxPrefixes: 16,
  maxSlaacAddresses: 16,
  linkMtu: 1500,
});

/** A lifetime field of all ones: infinity (RFC 4861 4.6.2). */
export const INFINITE_LIFETIME = 0xffffffff;
/** RFC 4862 5.5.3 e): a valid lifetime is never cut below two hours by an unauthenticated RA. */
const TWO_HOURS_MS = 2 * 3600 * 1000;
const MIN_MTU = 1280;

/** What the machine needs of an RA (NdpRouterAdvert fits). */
export interface RouterAdvertInput {
  readonly routerLifetime: number;
  readonly reachableTime: number;
  readonly retransTimer: number;
  readonly mtu?: number | undefined;
  readonly prefixes: readonly NdpPrefixInfo[];
}

export interface SlaacAddressInfo {
  /** A copy. */
  readonly address: Ipv6Addr;
  readonly prefixLength: number;
  readonly origin: Ipv6AddressOrigin;
  readonly state: Ipv6AddressState;
  /** ms (scheduler time); Infinity for static and link-local addresses. */
  readonly validUntil: number;
  readonly preferredUntil: number;
  /** RFC 7217 DAD_Counter the identifier was made with. */
  readonly dadCounter: number;
}

export interface DefaultRouterInfo {
  readonly address: Ipv6Addr;
  readonly expiresAt: number;
  /** NUD declared it unreachable since its last RA: chosen last. */
  readonly unreachable: boolean;
}

export interface OnLinkPrefixInfo {
  readonly prefix: Ipv6Addr;
  readonly prefixLength: number;
  readonly expiresAt: number;
}

export type SlaacAction =
  | { readonly kind: 'add-address'; readonly address: Ipv6Addr; readonly prefixLength: number; readonly origin: Ipv6AddressOrigin }
  | { readonly kind: 'address-state'; readonly address: Ipv6Addr; readonly state: 'preferred' | 'deprecated' }
  | { readonly kind: 'remove-address'; readonly address: Ipv6Addr; readonly reason: 'duplicate' | 'expired' }
  | { readonly kind: 'dad-solicit'; readonly target: Ipv6Addr }
  | { readonly kind: 'router-solicit'; readonly src: Ipv6Addr | undefined }
  | { readonly kind: 'default-router'; readonly router: Ipv6Addr | undefined }
  | { readonly kind: 'on-link'; readonly prefix: Ipv6Addr; readonly prefixLength: number; readonly present: boolean }
  | { readonly kind: 'neighbor-timers'; readonly reachableTimeMs: number; readonly retransTimerMs: number }
  | { readonly kind: 'mtu'; readonly mtu: number };

export interface SlaacCounters {
  dadProbes: number;
  dadSucceeded: number;
  /** Tentative addresses another node claimed. */
  duplicates: number;
  /** NAs for an address that already passed DAD (RFC 4862 5.4.4: logged, nothing more). */
  conflictsAfterDad: number;
  routerSolicits: number;
  routerAdverts: number;
  /** RAs ignored because acceptRa is off. */
  routerAdvertsIgnored: number;
  /** Prefix options not used for SLAAC: link-local, preferred > valid, not a /64, a new one with valid 0. */
  prefixesIgnored: number;
  /** MTU options outside 1280..link MTU. */
  badMtu: number;
  addressesFormed: number;
  addressesExpired: number;
  /** Routers, prefixes or addresses refused because their table was full. */
  tableFull: number;
}

interface AddressRecord {
  address: Ipv6Addr;
  readonly prefixLength: number;
  readonly origin: Ipv6AddressOrigin;
  /** The /64 the identifier was made for (fe80:: for the link-local one). */
  readonly prefix: Ipv6Addr;
  state: Ipv6AddressState;
  dadCounter: number;
  /** DAD probes sent. */
  dadSent: number;
  /** Tentative: next probe, or the end of DAD after the last. */
  dadAt: number;
  validUntil: number;
  preferredUntil: number;
}

interface RouterRecord {
  readonly address: Ipv6Addr;
  expiresAt: number;
  unreachable: boolean;
}

interface PrefixRecord {
  readonly prefix: Ipv6Addr;
  readonly prefixLength: number;
  expiresAt: number;
}

/**
 * The interface identifier for an address in `prefix`, made with `dadCounter` (RFC 7217), or
 * undefined when no identifier is left to try (an EUI-64 identifier cannot change).
 */
export type InterfaceIdSource = (prefix: Ipv6Addr, dadCounter: number) => Uint8Array | undefined;

export class SlaacMachine {
  readonly config: SlaacConfig;
  readonly counters: SlaacCounters = {
    dadProbes: 0, dadSucceeded: 0, duplicates: 0, conflictsAfterDad: 0, routerSolicits: 0, routerAdverts: 0,
    routerAdvertsIgnored: 0, prefixesIgnored: 0, badMtu: 0, addressesFormed: 0, addressesExpired: 0, tableFull: 0,
  };

  readonly #interfaceId: InterfaceIdSource;
  readonly #random: () => number;
  readonly #addresses: AddressRecord[] = [];
  readonly #routers: RouterRecord[] = [];
  readonly #prefixes: PrefixRecord[] = [];
  #rsSent = 0;
  #rsAt = Infinity;
  #defaultRouter: Ipv6Addr | undefined;
  #mtu: number | undefined;
  #started = false;

  /**
   * @param interfaceId makes interface identifiers (RFC 7217 or EUI-64).
   * @param random uniform in [0, 1), for the solicitation delays (tests pass a fixed one).
   */
  constructor(config: Readonly<Partial<SlaacConfig>>, interfaceId: InterfaceIdSource, random: () => number = Math.random) {
    this.config = { ...SLAAC_DEFAULTS, ...config };
    this.#interfaceId = interfaceId;
    this.#random = random;
  }

  /**
   * The interface comes up: the link-local address (fe80::/64 with identifier 0) and `statics`
   * become tentative; the first DAD probe and the first RS wait a random delay of up to
   * MAX_RTR_SOLICITATION_DELAY (RFC 4862 5.4.2, RFC 4861 6.3.7). Call once.
   */
  start(now: number, statics: readonly { readonly address: Ipv6Addr; readonly prefixLength: number }[] = []): SlaacAction[] {
    if (this.#started) return [];
    this.#started = true;
    const actions: SlaacAction[] = [];
    const firstProbeAt = now + Math.floor(this.#random() * this.config.maxRtrSolicitationDelayMs);
    const llPrefix = linkLocalAddress(new Uint8Array(8));
    const iid = this.#interfaceId(llPrefix, 0);
    if (iid !== undefined) this.#add(linkLocalAddress(iid), 64, 'link-local', llPrefix, 0, Infinity, Infinity, firstProbeAt, now, actions);
    for (const s of statics) {
      if (this.#find(s.address) !== undefined) continue;
      this.#add(s.address.slice(), s.prefixLength, 'static', ipv6Network(s.address, 64), 0, Infinity, Infinity, firstProbeAt, now, actions);
    }
    if (this.config.acceptRa) this.#rsAt = now + Math.floor(this.#random() * this.config.maxRtrSolicitationDelayMs);
    return actions;
  }

  /** Adds a static address after start (tentative, DAD at once). */
  addStatic(address: Ipv6Addr, prefixLength: number, now: number): SlaacAction[] {
    const actions: SlaacAction[] = [];
    if (this.#find(address) === undefined) this.#add(address.slice(), prefixLength, 'static', ipv6Network(address, 64), 0, Infinity, Infinity, now, now, actions);
    return actions;
  }

  /**
   * Evidence that another node uses `target`: an NA for it, or a DAD probe (NS from ::) for it
   * while ours is tentative (the wiring answers probes for assigned addresses instead). A
   * tentative address is a duplicate (RFC 4862 5.4.5): dropped, and with a stable identifier
   * the next DAD_Counter is tried (RFC 7217 6), up to idgenRetries times.
   */
  duplicate(target: Ipv6Addr, now: number): SlaacAction[] {
    const a = this.#find(target);
    if (a === undefined) return [];
    if (a.state !== 'tentative') {
      if (a.state !== 'duplicate') this.counters.conflictsAfterDad++;
      return [];
    }
    this.counters.duplicates++;
    const actions: SlaacAction[] = [{ kind: 'remove-address', address: a.address, reason: 'duplicate' }];
    const nextCounter = a.dadCounter + 1;
    const iid = a.origin === 'static' || nextCounter > this.config.idgenRetries ? undefined : this.#interfaceId(a.prefix, nextCounter);
    if (iid === undefined) {
      a.state = 'duplicate';
      return actions;
    }
    this.#addresses.splice(this.#addresses.indexOf(a), 1);
    const address = a.origin === 'link-local' ? linkLocalAddress(iid) : addressFromPrefix(a.prefix, iid);
    this.#add(address, a.prefixLength, a.origin, a.prefix, nextCounter, a.validUntil, a.preferredUntil, now + this.config.idgenDelayMs, now, actions);
    return actions;
  }

  /** A valid router advertisement from the link-local `src` (RFC 4861 6.3.4, RFC 4862 5.5.3). */
  routerAdvert(ra: RouterAdvertInput, src: Ipv6Addr, now: number): SlaacAction[] {
    if (!this.config.acceptRa) {
      this.counters.routerAdvertsIgnored++;
      return [];
    }
    this.counters.routerAdverts++;
    const actions: SlaacAction[] = [];
    // The default router list.
    const r = this.#routers.find((x) => ipv6Equals(x.address, src));
    if (ra.routerLifetime === 0) {
      if (r !== undefined) this.#routers.splice(this.#routers.indexOf(r), 1);
    } else {
      // RFC 4861 6.3.7: a valid RA with a router lifetime ends the solicitations.
      this.#rsAt = Infinity;
      const expiresAt = now + ra.routerLifetime * 1000;
      if (r !== undefined) {
        r.expiresAt = expiresAt;
        r.unreachable = false;
      } else if (this.#routers.length < this.config.maxRouters) {
        this.#routers.push({ address: src.slice(0, IPV6_ADDR_LEN), expiresAt, unreachable: false });
      } else {
        this.counters.tableFull++;
      }
    }
    this.#chooseRouter(actions);
    // Timers: 0 means unspecified.
    if (ra.reachableTime > 0 || ra.retransTimer > 0) {
      if (ra.retransTimer > 0) this.config.retransTimerMs = ra.retransTimer;
      actions.push({ kind: 'neighbor-timers', reachableTimeMs: ra.reachableTime, retransTimerMs: ra.retransTimer });
    }
    if (ra.mtu !== undefined) {
      if (ra.mtu < MIN_MTU || ra.mtu > this.config.linkMtu) this.counters.badMtu++;
      else if (ra.mtu !== this.#mtu) {
        this.#mtu = ra.mtu;
        actions.push({ kind: 'mtu', mtu: ra.mtu });
      }
    }
    for (const p of ra.prefixes) {
      if (isIpv6LinkLocal(p.prefix)) {
        this.counters.prefixesIgnored++; // RFC 4861 6.3.4, RFC 4862 5.5.3 b)
        continue;
      }
      if (p.onLink) this.#onLinkPrefix(p, now, actions);
      if (p.autonomous && this.config.slaac) this.#autonomousPrefix(p, now, actions);
    }
    return actions;
  }

  /** NUD declared `ip` unreachable: if it is a default router, it is chosen last (RFC 4861 6.3.6). */
  routerUnreachable(ip: Ipv6Addr): SlaacAction[] {
    const r = this.#routers.find((x) => ipv6Equals(x.address, ip));
    if (r === undefined) return [];
    r.unreachable = true;
    const actions: SlaacAction[] = [];
    this.#chooseRouter(actions);
    return actions;
  }

  /** Runs what is due at `now`. */
  expire(now: number): SlaacAction[] {
    const actions: SlaacAction[] = [];
    for (const a of [...this.#addresses]) {
      if (a.state === 'duplicate') continue;
      if (now >= a.validUntil) {
        // RFC 4862 5.5.4: the valid lifetime ends: the address goes.
        this.#addresses.splice(this.#addresses.indexOf(a), 1);
        this.counters.addressesExpired++;
        actions.push({ kind: 'remove-address', address: a.address, reason: 'expired' });
        continue;
      }
      if (a.state === 'tentative') {
        if (now < a.dadAt) continue;
        if (a.dadSent < this.config.dadTransmits) {
          a.dadSent++;
          a.dadAt = now + this.config.retransTimerMs;
          this.counters.dadProbes++;
          actions.push({ kind: 'dad-solicit', target: a.address });
          continue;
        }
        this.#dadPassed(a, now, actions);
        continue;
      }
      if (a.state === 'preferred' && now >= a.preferredUntil) {
        a.state = 'deprecated';
        actions.push({ kind: 'address-state', address: a.address, state: 'deprecated' });
      }
    }
    let routersChanged = false;
    for (const r of [...this.#routers]) {
      if (now < r.expiresAt) continue;
      this.#routers.splice(this.#routers.indexOf(r), 1);
      routersChanged = true;
    }
    if (routersChanged) this.#chooseRouter(actions);
    for (const p of [...this.#prefixes]) {
      if (now < p.expiresAt) continue;
      this.#prefixes.splice(this.#prefixes.indexOf(p), 1);
      actions.push({ kind: 'on-link', prefix: p.prefix, prefixLength: p.prefixLength, present: false });
    }
    if (now >= this.#rsAt) {
      const ll = this.#addresses.find((a) => a.origin === 'link-local' && (a.state === 'preferred' || a.state === 'deprecated'));
      this.#rsSent++;
      this.counters.routerSolicits++;
      actions.push({ kind: 'router-solicit', src: ll?.address });
      this.#rsAt = this.#rsSent < this.config.maxRtrSolicitations ? now + this.config.rtrSolicitationIntervalMs : Infinity;
    }
    return actions;
  }

  /** When `expire` next has work, or undefined. */
  nextDeadline(): number | undefined {
    let next = this.#rsAt;
    for (const a of this.#addresses) {
      if (a.state === 'duplicate') continue;
      next = Math.min(next, a.validUntil);
      if (a.state === 'tentative') next = Math.min(next, a.dadAt);
      else if (a.state === 'preferred') next = Math.min(next, a.preferredUntil);
    }
    for (const r of this.#routers) next = Math.min(next, r.expiresAt);
    for (const p of this.#prefixes) next = Math.min(next, p.expiresAt);
    return next === Infinity ? undefined : next;
  }

  addresses(): SlaacAddressInfo[] {
    return this.#addresses.map((a) => ({
      address: a.address.slice(), prefixLength: a.prefixLength, origin: a.origin, state: a.state,
      validUntil: a.validUntil, preferredUntil: a.preferredUntil, dadCounter: a.dadCounter,
    }));
  }

  routers(): DefaultRouterInfo[] {
    return this.#routers.map((r) => ({ address: r.address.slice(), expiresAt: r.expiresAt, unreachable: r.unreachable }));
  }

  prefixes(): OnLinkPrefixInfo[] {
    return this.#prefixes.map((p) => ({ prefix: p.prefix.slice(), prefixLength: p.prefixLength, expiresAt: p.expiresAt }));
  }

  /** The router default routes go through now (the first reachable one in the list). */
  get defaultRouter(): Ipv6Addr | undefined {
    return this.#defaultRouter;
  }

  /** The MTU an RA set, if any. */
  get mtu(): number | undefined {
    return this.#mtu;
  }

  // -- internals ------------------------------------------------------------------------------

  #find(address: Ipv6Addr): AddressRecord | undefined {
    return this.#addresses.find((a) => ipv6Equals(a.address, address));
  }

  #add(
    address: Ipv6Addr, prefixLength: number, origin: Ipv6AddressOrigin, prefix: Ipv6Addr, dadCounter: number,
    validUntil: number, preferredUntil: number, dadAt: number, now: number, actions: SlaacAction[],
  ): void {
    const a: AddressRecord = { address, prefixLength, origin, prefix, state: 'tentative', dadCounter, dadSent: 0, dadAt, validUntil, preferredUntil };
    this.#addresses.push(a);
    actions.push({ kind: 'add-address', address, prefixLength, origin });
    if (this.config.dadTransmits === 0) this.#dadPassed(a, now, actions);
  }

  #dadPassed(a: AddressRecord, now: number, actions: SlaacAction[]): void {
    a.state = now >= a.preferredUntil ? 'deprecated' : 'preferred';
    if (this.config.dadTransmits > 0) this.counters.dadSucceeded++;
    actions.push({ kind: 'address-state', address: a.address, state: a.state });
  }

  /** RFC 4861 6.3.6: routers not known to be unreachable first, in the order they were learnt. */
  #chooseRouter(actions: SlaacAction[]): void {
    const chosen = this.#routers.find((r) => !r.unreachable) ?? this.#routers[0];
    const now = chosen?.address;
    const before = this.#defaultRouter;
    if (now === before || (now !== undefined && before !== undefined && ipv6Equals(now, before))) return;
    this.#defaultRouter = now;
    actions.push({ kind: 'default-router', router: now });
  }

  /** RFC 4861 6.3.4: an on-link prefix for its valid lifetime (0: no longer on-link). */
  #onLinkPrefix(p: NdpPrefixInfo, now: number, actions: SlaacAction[]): void {
    const network = ipv6Network(p.prefix, p.prefixLength);
    const known = this.#prefixes.find((x) => x.prefixLength === p.prefixLength && ipv6Equals(x.prefix, network));
    if (p.validLifetime === 0) {
      if (known !== undefined) {
        this.#prefixes.splice(this.#prefixes.indexOf(known), 1);
        actions.push({ kind: 'on-link', prefix: network, prefixLength: p.prefixLength, present: false });
      }
      return;
    }
    const expiresAt = lifetimeEnd(now, p.validLifetime);
    if (known !== undefined) {
      known.expiresAt = expiresAt;
      return;
    }
    if (this.#prefixes.length >= this.config.maxPrefixes) {
      this.counters.tableFull++;
      return;
    }
    this.#prefixes.push({ prefix: network, prefixLength: p.prefixLength, expiresAt });
    actions.push({ kind: 'on-link', prefix: network, prefixLength: p.prefixLength, present: true });
  }

  /** RFC 4862 5.5.3: an autonomous prefix forms an address, or refreshes the one it formed. */
  #autonomousPrefix(p: NdpPrefixInfo, now: number, actions: SlaacAction[]): void {
    // c) a preferred lifetime beyond the valid one is a contradiction; d) our identifiers are 64 bits.
    if (p.preferredLifetime > p.validLifetime || p.prefixLength !== 64) {
      this.counters.prefixesIgnored++;
      return;
    }
    const network = ipv6Network(p.prefix, 64);
    const a = this.#addresses.find((x) => x.origin === 'slaac' && ipv6Equals(x.prefix, network));
    if (a === undefined) {
      if (p.validLifetime === 0) {
        this.counters.prefixesIgnored++;
        return;
      }
      if (this.#addresses.filter((x) => x.origin === 'slaac').length >= this.config.maxSlaacAddresses) {
        this.counters.tableFull++;
        return;
      }
      const iid = this.#interfaceId(network, 0);
      if (iid === undefined) return;
      this.counters.addressesFormed++;
      this.#add(addressFromPrefix(network, iid), 64, 'slaac', network, 0, lifetimeEnd(now, p.validLifetime), lifetimeEnd(now, p.preferredLifetime), now, now, actions);
      return;
    }
    if (a.state === 'duplicate') return;
    // e) the preferred lifetime is reset as advertised.
    a.preferredUntil = lifetimeEnd(now, p.preferredLifetime);
    // e) the valid lifetime: taken when over two hours or beyond what remains; otherwise never
    // cut below two hours, and left alone when two hours or less remain (a forged RA cannot
    // kill an address quickly).
    const received = lifetimeEnd(now, p.validLifetime);
    const remaining = a.validUntil - now;
    if (p.validLifetime === INFINITE_LIFETIME || received - now > TWO_HOURS_MS || received > a.validUntil) a.validUntil = received;
    else if (remaining > TWO_HOURS_MS) a.validUntil = now + TWO_HOURS_MS;
    if (a.state === 'deprecated' && now < a.preferredUntil) {
      a.state = 'preferred';
      actions.push({ kind: 'address-state', address: a.address, state: 'preferred' });
    } else if (a.state === 'preferred' && now >= a.preferredUntil) {
      a.state = 'deprecated';
      actions.push({ kind: 'address-state', address: a.address, state: 'deprecated' });
    }
  }
}

/** The end of a lifetime of `seconds` from `now` (all ones: never). */
function lifetimeEnd(now: number, seconds: number): number {
  return seconds === INFINITE_LIFETIME ? Infinity : now + seconds * 1000;
}
