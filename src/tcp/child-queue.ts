/**
 * A listener's queue of child connections (its half-open ones, or those waiting for `accept`):
 * a doubly linked list through fields of the children themselves, so joining and leaving a
 * queue allocates nothing (a `Set` add and delete or an array push and shift per connection,
 * and their storage's growth and shrinking, cost more than the links). A child is in at most
 * one queue at a time; `queue` says which.
 */

/** The fields a queued child carries (TcpConnectionCore's, internal). */
export interface QueuedChild<T extends QueuedChild<T>> {
  queue: ChildQueue<T> | undefined;
  queuePrev: T | undefined;
  queueNext: T | undefined;
}

export class ChildQueue<T extends QueuedChild<T>> {
  size = 0;
  private head: T | undefined = undefined;
  private tail: T | undefined = undefined;

  /** Appends a child that is in no queue. */
  push(child: T): void {
    child.queue = this;
    child.queuePrev = this.tail;
    child.queueNext = undefined;
    if (this.tail === undefined) this.head = child;
    else this.tail.queueNext = child;
    this.tail = child;
    this.size++;
  }

  /** Takes the oldest child, if any. */
  shift(): T | undefined {
    const child = this.head;
    if (child !== undefined) this.remove(child);
    return child;
  }

  /** Takes `child` out if it is in this queue; true if it was. */
  remove(child: T): boolean {
    if (child.queue !== this) return false;
    const prev = child.queuePrev;
    const next = child.queueNext;
    if (prev === undefined) this.head = next;
    else prev.queueNext = next;
    if (next === undefined) this.tail = prev;
    else next.queuePrev = prev;
    child.queue = undefined;
    child.queuePrev = undefined;
    child.queueNext = undefined;
    this.size--;
    return true;
  }

  /** Empties the queue, returning its children oldest first. */
  drain(): T[] {
    const out: T[] = [];
    for (let c = this.shift(); c !== undefined; c = this.shift()) out.push(c);
    return out;
  }
}
