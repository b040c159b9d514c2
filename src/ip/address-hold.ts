/**
 * References on the IPv6 ids of the last N addresses that crossed a boundary, so that an item
 * an operator delays (a shaper, a queue) still names addresses the book holds when it comes
 * out, however its peer's connections came and went meanwhile. Each `hold` takes one
 * reference and gives back the one taken N holds earlier: the book then never keeps more than
 * N addresses for the boundary, whatever peers send.
 *
 * Only boundaries with operators inserted (or observers watching) pay for it; the stack's
 * plain path never holds anything here.
 */

import { IP_ANY6, type AddressBook, type IpAddr } from './address-book.js';

/** Default ring size: ids held for the last 4096 addresses (2 per packet: 2048 packets in flight). */
export const ADDRESS_HOLD_DEFAULT_SIZE = 4096;

export class AddressHold {
  readonly #book: AddressBook;
  /** Ids held, 0 where none (IPv4 numbers are never put here). */
  readonly #ids: Float64Array;
  #next = 0;

  constructor(book: AddressBook, size = ADDRESS_HOLD_DEFAULT_SIZE) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`AddressHold: size ${size} is not a positive integer`);
    this.#book = book;
    this.#ids = new Float64Array(size);
  }

  /** The id of the address at `bytes[offset..offset+16)`, interned if new, held for the next N holds. */
  hold(bytes: Uint8Array, offset = 0): IpAddr {
    const id = this.#book.acquire(bytes, offset);
    if (id !== IP_ANY6) this.#push(id); // `::` is never released: nothing to give back
    return id;
  }

  /** One more reference on an id the book already holds (`::` and IPv4 numbers pass untouched), for the next N holds. */
  holdId(id: IpAddr): IpAddr {
    if (id <= IP_ANY6) return id;
    this.#book.retain(id);
    this.#push(id);
    return id;
  }

  /** Gives back every reference held. */
  clear(): void {
    const ids = this.#ids;
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] !== 0) this.#book.release(ids[i]);
      ids[i] = 0;
    }
    this.#next = 0;
  }

  #push(id: IpAddr): void {
    const ids = this.#ids;
    const at = this.#next;
    const old = ids[at];
    ids[at] = id;
    this.#next = at + 1 === ids.length ? 0 : at + 1;
    if (old !== 0) this.#book.release(old);
  }
}
