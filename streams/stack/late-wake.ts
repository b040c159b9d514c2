import type { SchedulerLike } from 'rxjs';

/**
 * How late (ms) a timer's wake-up must be to count as held up: well past a timer's ordinary
 * lateness (Node's timers run within about a millisecond of their time), well below the
 * shortest time any of the stack's timers waits for input (TCP's 200 ms minimum RTO).
 */
export const LATE_WAKE_MS = 20;

/**
 * Input held up behind a late timer.
 *
 * When the event loop is held up (a long synchronous task, a pause of the process), frames keep
 * arriving in the links' devices, and when the loop runs again Node runs the due timers before
 * it polls for input. A timer that waits for an answer would then decide without it: TCP would
 * resend data an ACK in the device's queue had acknowledged, ARP would give up on a neighbour
 * whose reply is there, a reassembly would drop a datagram whose last fragment is there, a ping
 * would time out beside its reply, DAD would take an address whose defender has answered.
 *
 * So every stack timer that wakes more than LATE_WAKE_MS after its time reads its stack's links
 * first (`Link.pollInput`, which delivers what the device holds before returning) and then looks
 * again at what is due: `DeadlineTimer` (and with it the TCP timer queue, ARP, NDP, reassembly,
 * autoconfiguration, socket idle timers) does this itself, the few timers scheduled directly
 * call `readIfHeldUp`. The links to read are registered per scheduler by the stack that owns
 * them (`watchHeldInput`): a timer knows its scheduler, not its stack, and reading every link
 * of the process after the loop was held up is right for any stack in it.
 */
const readers = new WeakMap<SchedulerLike, Array<() => void>>();

/**
 * Registers `read` (reads a stack's links) to run when a timer on `scheduler` wakes late.
 * Returns the function that takes it out again (at the stack's close).
 */
export function watchHeldInput(scheduler: SchedulerLike, read: () => void): () => void {
  let list = readers.get(scheduler);
  if (list === undefined) {
    list = [];
    readers.set(scheduler, list);
  }
  list.push(read);
  return () => {
    const at = list.indexOf(read);
    if (at >= 0) list.splice(at, 1);
  };
}

/**
 * Reads the held-up input of every stack on `scheduler` if `now` is more than LATE_WAKE_MS past
 * `dueAt` (a timer's time); returns whether it did. What was read has been delivered (and its
 * timers set or cancelled) when this returns: the caller looks again at what is due.
 */
export function readIfHeldUp(scheduler: SchedulerLike, dueAt: number, now: number): boolean {
  if (now - dueAt <= LATE_WAKE_MS) return false;
  const list = readers.get(scheduler);
  if (list === undefined || list.length === 0) return false;
  // A copy: a stack closed by what the input sets off takes itself out meanwhile.
  for (const read of list.slice()) read();
  return true;
}
