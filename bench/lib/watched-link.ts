/**
 * A Link that shows every frame to the bench's observers on its way through, and is the wrapped
 * link in everything else (close, mtu, checksumVerified...). Bench-only (trace-link.ts,
 * idle-probe.ts): a test or the stack proper inserts operators through `hooks.link` instead.
 */
import { Observable, share } from 'rxjs';
import type { Link } from '../../streams/links/link.js';

/**
 * `onIn(frame)` before each received frame goes up; `onOut(frame, gathered)` before each sent
 * one, `gathered` the payload's length when the frame is headers written with their payload apart
 * (sendGathered), else 0.
 */
export function watchedLink(link: Link, onIn: (frame: Uint8Array) => void, onOut: (frame: Uint8Array, gathered: number) => void): Link {
  const frames$ = new Observable<Uint8Array>((sub) => link.frames$.subscribe({
    next(frame) {
      onIn(frame);
      sub.next(frame);
    },
    error: (e) => sub.error(e),
    complete: () => sub.complete(),
  })).pipe(share());
  const own: Partial<Link> = {
    frames$,
    send(frame: Uint8Array) {
      onOut(frame, 0);
      link.send(frame);
    },
    sendPartial: link.sendPartial === undefined ? undefined : (frame: Uint8Array, a: number, b: number, g?: number) => {
      onOut(frame, 0);
      link.sendPartial!(frame, a, b, g);
    },
    sendGathered: link.sendGathered === undefined ? undefined : (head: Uint8Array, payload: Uint8Array, a: number, b: number, g: number) => {
      onOut(head, payload.length);
      link.sendGathered!(head, payload, a, b, g);
    },
  };
  return new Proxy(link, {
    get(target, prop) {
      if (prop in own) return (own as Record<PropertyKey, unknown>)[prop];
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
