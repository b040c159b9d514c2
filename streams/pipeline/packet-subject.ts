import { Subject } from 'rxjs';

/**
 * A Subject for a stream of packets (a link's frames, IPv4's datagrams to the transports):
 * the same Subject, with `next` cheaper for the usual case of one subscriber.
 *
 * RxJS's `Subject.next` wraps its work in a closure (for the deprecated synchronous error
 * handling) and walks a snapshot of its observers with `for...of`; called for every packet from
 * code that sees many Subjects, V8 allocates the closure, the array iterator and its result
 * objects each time (about 200 bytes per call in the nat's allocation profile). With one
 * subscriber there is nothing to snapshot: it is called directly. Otherwise, or when the
 * Subject is stopped or closed, `Subject.next` does the work, errors included.
 */
export class PacketSubject<T> extends Subject<T> {
  override next(value: T): void {
    // `observers`: RxJS 7's array of the current subscribers (null once the Subject is closed).
    if (!this.closed && !this.isStopped) {
      const observers = this.observers;
      if (observers.length === 1) {
        observers[0].next(value);
        return;
      }
    }
    super.next(value);
  }
}
