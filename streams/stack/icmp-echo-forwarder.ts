import { Observable, from, isObservable, type ObservableInput, type Subscription } from 'rxjs';
import { NetstackError, netError } from '../../src/errors.js';
import { createCounters } from '../../src/stats.js';
import { log } from '../../src/log.js';

/** An echo request to an address that is not the stack's, as the responder sees it. */
export interface EchoForwardRequest {
  /** Who pings (the client). */
  readonly from: string;
  /** The address it pings (the original destination): a reply comes from there. */
  readonly to: string;
  readonly ident: number;
  readonly seq: number;
  /** The echo data (a copy). */
  readonly data: Uint8Array;
  readonly ttl: number;
}

/**
 * Decides whether the original destination answers: true (now, or later through a Promise or
 * Observable: its first value) sends the echo reply from `request.to`; false, or an Observable
 * that completes empty or errors, sends nothing (the client's ping times out).
 */
export type EchoResponder = (request: EchoForwardRequest) => ObservableInput<boolean> | boolean;

/** Options of `stack.icmp.forwardEcho()`. */
export interface EchoForwardOptions {
  /** Requests waiting for their responder at once; more are dropped (`drops.inFlightFull`). Default 256. */
  readonly maxInFlight?: number;
}

export const ICMP_FORWARD_DROP_REASONS = ['inFlightFull'] as const;

export function createIcmpForwardCounters() {
  return createCounters(['requests', 'replied', 'unanswered', 'responderErrors', 'inFlight'], ICMP_FORWARD_DROP_REASONS);
}
export type IcmpForwardCounters = ReturnType<typeof createIcmpForwardCounters>;

/**
 * Echo requests to any address, answered through a user's responder: what a NAT does with a
 * ping it relays (ask the real destination, answer as it when it answers). Bounded in flight.
 */
export class EchoForwarder {
  readonly #pending = new Set<Subscription>();
  #closed = false;

  constructor(
    readonly counters: IcmpForwardCounters,
    readonly responder: EchoResponder,
    readonly maxInFlight: number,
    /** Sends the echo reply for `request` from its `to`. */
    readonly reply: (request: EchoForwardRequest) => void,
  ) {}

  offer(request: EchoForwardRequest): void {
    const c = this.counters;
    if (this.#pending.size >= this.maxInFlight) {
      c.drops.inFlightFull++;
      return;
    }
    c.requests++;
    let verdict: ObservableInput<boolean> | boolean;
    try {
      verdict = this.responder(request);
    } catch (err) {
      c.responderErrors++;
      if (log.icmp.enabled) log.icmp('forwardEcho: responder threw: %s', (err as Error).message);
      return;
    }
    if (typeof verdict === 'boolean') {
      this.#settle(request, verdict);
      return;
    }
    let settled = false;
    let sub: Subscription | undefined;
    const done = (answer: boolean, error = false): void => {
      if (settled) return;
      settled = true;
      if (sub !== undefined) this.#pending.delete(sub);
      c.inFlight = this.#pending.size;
      if (error) c.responderErrors++;
      this.#settle(request, answer);
      // The first value decides: the responder's teardown (its timer, its socket wait) runs now.
      sub?.unsubscribe();
    };
    const source = isObservable(verdict) ? verdict : from(verdict);
    sub = source.subscribe({
      next: (answer) => done(answer === true),
      error: () => done(false, true),
      complete: () => done(false),
    });
    if (!settled) {
      this.#pending.add(sub);
      c.inFlight = this.#pending.size;
    } else {
      sub.unsubscribe();
    }
  }

  close(): void {
    this.#closed = true;
    for (const s of this.#pending) s.unsubscribe();
    this.#pending.clear();
    this.counters.inFlight = 0;
  }

  #settle(request: EchoForwardRequest, answer: boolean): void {
    if (this.#closed) return;
    if (!answer) {
      this.counters.unanswered++;
      return;
    }
    this.counters.replied++;
    this.reply(request);
  }
}

/**
 * A layer's one echo responder (ICMP's and ICMPv6's alike): `forwardEcho()` checks the options,
 * claims the network layer's forwarding mode for the protocol, and installs an EchoForwarder
 * for as long as it is subscribed; `close()` completes that subscriber (its teardown lets go).
 */
export class EchoForwardSlot {
  /** While a `forwardEcho()` subscription lasts: answers echo requests to addresses not ours. */
  forwarder: EchoForwarder | undefined = undefined;
  #end: (() => void) | undefined = undefined;

  /**
   * @param acceptForeign the network layer's forwarding mode for the protocol (returns its
   *   release), or undefined when the layer has none (ERR_INVALID_STATE).
   * @param reply sends the echo reply a responder agreed to, from the original destination.
   */
  forwardEcho(
    responder: EchoResponder, options: EchoForwardOptions, counters: IcmpForwardCounters,
    acceptForeign: (() => () => void) | undefined, reply: (request: EchoForwardRequest) => void,
  ): Observable<never> {
    return new Observable<never>((subscriber) => {
      const maxInFlight = options.maxInFlight ?? 256;
      const problems: string[] = [];
      if (typeof responder !== 'function') problems.push('responder: not a function');
      if (!Number.isInteger(maxInFlight) || maxInFlight < 1) problems.push(`maxInFlight: ${String(maxInFlight)} is not a positive integer`);
      if (problems.length > 0) return subscriber.error(new NetstackError('ERR_INVALID_ARG_VALUE', `forwardEcho: ${problems.join('; ')}`));
      if (this.forwarder !== undefined) return subscriber.error(netError('EADDRINUSE', 'forwardEcho: a responder is already installed'));
      if (acceptForeign === undefined) return subscriber.error(new NetstackError('ERR_INVALID_STATE', 'forwardEcho: the network layer has no forwarding mode'));
      const release = acceptForeign();
      const forwarder = new EchoForwarder(counters, responder, maxInFlight, reply);
      this.forwarder = forwarder;
      this.#end = () => subscriber.complete();
      return () => {
        if (this.forwarder === forwarder) {
          this.forwarder = undefined;
          this.#end = undefined;
        }
        forwarder.close();
        release();
      };
    });
  }

  /** The layer closes: the subscriber completes (and its teardown stops forwarding). */
  close(): void {
    this.#end?.();
  }
}
