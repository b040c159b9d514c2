/**
 * One `ping`: the part ICMP (IPv4) and ICMPv6 share. The options are checked the same way, the
 * requests go out every `interval` ms until `count`, each reply is matched to its request by
 * sequence number and timed, a request unanswered for `timeout` ms ends it with ETIMEDOUT, and a
 * ping in progress keeps the process alive. What differs per family (building and sending the
 * request, which replies count, what a reply reports) comes in as `PingFamily`.
 */
import { Observable, type SchedulerLike, type Subscription } from 'rxjs';
import { NetstackError, netError } from '../../src/errors.js';
import { refTimer } from './unref-scheduler.js';
import { readIfHeldUp } from './late-wake.js';

/** One answered echo request. */
export interface EchoReply {
  readonly from: string;
  readonly seq: number;
  /** Echo data bytes. */
  readonly bytes: number;
  /** The reply's TTL (IPv4) or hop limit (IPv6). */
  readonly ttl: number;
  /** Round-trip time in ms (scheduler time). */
  readonly rttMs: number;
}

export interface PingOptions {
  /** Requests to send. Default 1. */
  readonly count?: number;
  /** Echo data bytes. Default 56 (as ping(8)). */
  readonly size?: number;
  /** ms between requests. Default 1000. */
  readonly interval?: number;
  /** ms to wait for each reply before erroring with ETIMEDOUT. Default 2000. */
  readonly timeout?: number;
}

/** What a family's echo layer supplies for one ping. */
export interface PingFamily<D> {
  readonly scheduler: SchedulerLike;
  /** Payload bytes a request can carry at most. */
  readonly maxSize: number;
  /** A problem with the address (`address: ...`), or undefined when it is usable. */
  addressProblem(address: string): string | undefined;
  /** A free identifier, registering `onReply` for the replies that carry it. */
  open(onReply: (d: D, seq: number, dataLength: number) => void): number;
  /** The identifier is free again. */
  close(ident: number): void;
  /** Sends request `seq`; a routing or neighbour error goes to `onError` (now or later). */
  send(ident: number, seq: number, size: number, onError: (err: NetstackError) => void): void;
  /** The reply's datagram comes from whom the ping was sent to (a multicast ping takes any). */
  fromTarget(d: D): boolean;
  /** What the reply reports. */
  reply(d: D, seq: number, dataLength: number, rttMs: number): EchoReply;
}

/** Echo requests to `address`; see IcmpLayer.ping for the behaviour. */
export function pingSession<D>(address: string, options: PingOptions, family: PingFamily<D>): Observable<EchoReply> {
  const count = options.count ?? 1;
  const size = options.size ?? 56;
  const interval = options.interval ?? 1000;
  const timeout = options.timeout ?? 2000;
  const problems: string[] = [];
  const bad = family.addressProblem(address);
  if (bad !== undefined) problems.push(bad);
  if (!Number.isInteger(count) || count < 1) problems.push(`count: ${count} is not a positive integer`);
  if (!Number.isInteger(size) || size < 0 || size > family.maxSize) problems.push(`size: ${size} is not in 0..${family.maxSize}`);
  if (!(interval >= 0)) problems.push(`interval: ${interval} is not >= 0`);
  if (!(timeout > 0)) problems.push(`timeout: ${timeout} is not > 0`);
  return new Observable<EchoReply>((subscriber) => {
    if (problems.length > 0) {
      subscriber.error(new NetstackError('ERR_INVALID_ARG_VALUE', `ping: ${problems.join('; ')}`));
      return;
    }
    const scheduler = family.scheduler;
    const sentAt = new Map<number, number>();
    const timers: Subscription[] = [];
    let seq = 0;
    let replies = 0;
    const fail = (err: NetstackError) => subscriber.error(err);
    const ident = family.open((d, replySeq, dataLength) => {
      const t0 = sentAt.get(replySeq);
      if (t0 === undefined || !family.fromTarget(d)) return;
      sentAt.delete(replySeq);
      replies++;
      subscriber.next(family.reply(d, replySeq, dataLength, scheduler.now() - t0));
      if (replies === count) subscriber.complete();
    });
    const sendOne = () => {
      if (subscriber.closed) return;
      const mySeq = seq++ & 0xffff;
      sentAt.set(mySeq, scheduler.now());
      family.send(ident, mySeq, size, fail);
      if (subscriber.closed) return;
      // A ping in progress keeps the process alive (the stack's other timers do not).
      const dueAt = scheduler.now() + timeout;
      timers.push(
        refTimer(scheduler.schedule(() => {
          if (!sentAt.has(mySeq)) return;
          // Held up past the timeout (late-wake.ts): the reply may be waiting in the link.
          if (readIfHeldUp(scheduler, dueAt, scheduler.now()) && !sentAt.has(mySeq)) return;
          fail(netError('ETIMEDOUT', `no echo reply from ${address} for seq ${mySeq} within ${timeout} ms`));
        }, timeout)),
      );
      if (seq < count) timers.push(refTimer(scheduler.schedule(sendOne, interval)));
    };
    sendOne();
    return () => {
      family.close(ident);
      for (const t of timers) t.unsubscribe();
    };
  });
}
