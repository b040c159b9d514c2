import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  AddressBook, IP_ANY4, IP_ANY6, IPV6_ID_BASE, IPV6_ID_SLOTS, ipAnyOf, formatIpAddr, isIpAny, isIpv6, parseIpAddr,
} from '../../src/ip/address-book.js';
import { ipv6Addr } from '../../src/ipv6/address.js';
import { parseIpv4 } from '../../src/ipv4/address.js';

const A = ipv6Addr('fd00:198:18::2');
const B = ipv6Addr('fd00:198:18::3');

describe('ip/address-book', () => {
  it('gives :: the first id, IP_ANY6 = 2^32, and tells the families apart with one compare', () => {
    const book = new AddressBook(1);
    assert.equal(IP_ANY6, 2 ** 32);
    assert.equal(book.idOf(new Uint8Array(16)), IP_ANY6);
    assert.equal(book.size, 1);
    assert.equal(isIpv6(IP_ANY6), true);
    assert.equal(isIpv6(0xffffffff), false);
    assert.equal(ipAnyOf(parseIpv4('198.18.0.2')!), IP_ANY4);
    assert.equal(ipAnyOf(IP_ANY6 + 7), IP_ANY6);
    assert.equal(isIpAny(IP_ANY4) && isIpAny(IP_ANY6), true);
    assert.equal(isIpAny(1), false);
  });

  it('idOf finds an address inside packet bytes without interning it', () => {
    const book = new AddressBook(1);
    const packet = new Uint8Array(40);
    packet.set(A, 8);
    assert.equal(book.idOf(packet, 8), undefined);
    assert.equal(book.size, 1);
    const id = book.acquire(A);
    assert.equal(book.idOf(packet, 8), id);
    assert.ok(id > IP_ANY6);
  });

  it('counts references: the same id while held, forgotten at zero, the slot reused under a new id', () => {
    const book = new AddressBook(1);
    const a1 = book.acquire(A);
    const a2 = book.acquire(A.slice());
    assert.equal(a1, a2);
    assert.equal(book.refCount(a1), 2);
    assert.equal(book.retain(a1), a1);
    assert.equal(book.refCount(a1), 3);
    book.release(a1);
    book.release(a1);
    assert.deepEqual(book.bytesOf(a1), A);
    book.release(a1);
    assert.equal(book.refCount(a1), 0);
    assert.equal(book.idOf(A), undefined);
    assert.equal(book.bytesOf(a1), undefined);
    const b = book.acquire(B);
    assert.notEqual(b, a1, 'a freed id is not given to another address');
    assert.equal((b - IPV6_ID_BASE) % IPV6_ID_SLOTS, (a1 - IPV6_ID_BASE) % IPV6_ID_SLOTS, 'its slot is reused');
    assert.deepEqual(book.bytes(b), B);
    assert.equal(book.bytesOf(a1), undefined, 'the old id still names nothing');
    assert.equal(book.refCount(a1), 0);
    book.release(a1); // a stale release does not touch the new holder
    assert.equal(book.refCount(b), 1);
    assert.throws(() => book.retain(a1), RangeError);
  });

  it('a stale id never names another address: slots are reused oldest first, each time under a new generation', () => {
    const book = new AddressBook(1);
    const addr = (i: number) => ipv6Addr(`fd00::${(i + 1).toString(16)}`);
    const first = [0, 1, 2].map((i) => book.acquire(addr(i)));
    const stale = first[1];
    for (const id of first) book.release(id);
    // 3 free slots, 3000 more addresses through them: every one gets an id never given before.
    const seen = new Set(first);
    for (let i = 3; i < 3003; i++) {
      const id = book.acquire(addr(i));
      assert.ok(!seen.has(id), `id ${id} given twice`);
      seen.add(id);
      assert.equal(book.bytesOf(stale), undefined);
      book.release(id);
    }
    assert.equal(book.size, 1);
  });

  it('stores its own copy of the address (the packet may be reused)', () => {
    const book = new AddressBook(1);
    const packet = new Uint8Array(40);
    packet.set(A, 24);
    const id = book.acquire(packet, 24);
    packet.fill(0xee);
    assert.deepEqual(book.bytes(id), A);
  });

  it('ignores releases of IPv4 addresses, of :: and of ids not held', () => {
    const book = new AddressBook(1);
    book.release(parseIpv4('198.18.0.2')!);
    book.release(IP_ANY6);
    book.release(IP_ANY6 + 99);
    assert.equal(book.idOf(new Uint8Array(16)), IP_ANY6);
    assert.throws(() => book.retain(IP_ANY6 + 99), RangeError);
    assert.throws(() => book.bytes(IP_ANY6 + 99), { code: 'ERR_INVALID_ARG_VALUE' });
  });

  it('stays bounded by what is held, whatever is looked up (property)', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.boolean()), { maxLength: 60 }), (ops) => {
      const book = new AddressBook(7);
      const held: number[] = [];
      for (const [bytes, keep] of ops) {
        book.idOf(bytes);
        const id = book.acquire(bytes);
        assert.deepEqual(book.bytes(id), bytes);
        if (keep) held.push(id);
        else book.release(id);
      }
      assert.ok(book.size <= held.length + 1);
      for (const id of held) book.release(id);
      assert.equal(book.size, 1);
    }));
  });

  it('parseIpAddr: IPv4 first, then IPv6, with a %zone', () => {
    assert.deepEqual(parseIpAddr('198.18.0.1'), { family: 4, v4: parseIpv4('198.18.0.1'), zone: undefined });
    const v6 = parseIpAddr('fd00:198:18::2');
    assert.equal(v6?.family, 6);
    assert.deepEqual(v6?.family === 6 && v6.v6, A);
    const ll = parseIpAddr('fe80::1%eth0');
    assert.equal(ll?.family === 6 && ll.zone, 'eth0');
    assert.deepEqual(ll?.family === 6 && ll.v6, ipv6Addr('fe80::1'));
    assert.equal(parseIpAddr('::ffff:198.18.0.1')?.family, 6);
    for (const bad of ['', 'fe80::1%', '198.18.0', '1.2.3.4.5', 'fd00::g', 'localhost', '::1/64']) {
      assert.equal(parseIpAddr(bad), undefined, bad);
    }
    assert.equal(parseIpAddr(42 as unknown as string), undefined);
  });

  it('formatIpAddr: dotted quad below 2^32, canonical IPv6 for an id, "?" for an unknown id', () => {
    const book = new AddressBook(1);
    assert.equal(formatIpAddr(parseIpv4('198.18.0.1')!, book), '198.18.0.1');
    assert.equal(formatIpAddr(IP_ANY6, book), '::');
    const id = book.acquire(ipv6Addr('FD00:0198:0018:0000:0000:0000:0000:0002'));
    assert.equal(book.format(id), 'fd00:198:18::2');
    assert.equal(formatIpAddr(IPV6_ID_BASE + 1234, book), '?');
  });

  it('idOf\'s last-hit cache never names a freed id, nor one reused for another address', () => {
    const book = new AddressBook(1);
    const a = ipv6Addr('fd00::a');
    const b = ipv6Addr('fd00::b');
    const c = ipv6Addr('fd00::c');
    const idA = book.acquire(a);
    const idC = book.acquire(c);
    assert.equal(book.idOf(a), idA);
    assert.equal(book.idOf(c), idC); // both cached now
    assert.equal(book.idOf(a), idA);
    book.release(idA);
    assert.equal(book.idOf(a), undefined, 'freed: not found from the cache');
    const idB = book.acquire(b);
    assert.notEqual(idB, idA, 'the freed id is not reused for another address');
    assert.equal(book.idOf(a), undefined);
    assert.equal(book.idOf(b), idB);
    assert.equal(book.idOf(c), idC);
    // An address at an offset inside a packet, as the layers look them up.
    const packet = new Uint8Array(40);
    packet.set(c, 24);
    assert.equal(book.idOf(packet, 24), idC);
  });
});
