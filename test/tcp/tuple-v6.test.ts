import assert from 'node:assert/strict';
import { IsnGenerator } from '../../src/tcp/isn.js';
import { SipHash24 } from '../../src/tcp/siphash.js';
import { SynCookies } from '../../src/tcp/syn-cookie.js';
import { TUPLE6_BYTES_LEN, writeTuple6Bytes } from '../../src/tcp/tuple-bytes.js';
import { AddressBook } from '../../src/ip/address-book.js';
import { ipv6Addr } from '../../src/ipv6/address.js';

const SECRET = new Uint8Array(16).map((_, i) => i + 1);
const LOCAL = ipv6Addr('fd00:198:18::2');
const REMOTE = ipv6Addr('fd00:198:18::1');

describe('tcp: ISNs and SYN cookies over IPv6 hash the 36-byte tuple', () => {
  it('writeTuple6Bytes lays out local, remote, local port, remote port', () => {
    const m = new Uint8Array(TUPLE6_BYTES_LEN);
    writeTuple6Bytes(m, LOCAL, 0x1234, REMOTE, 0xabcd);
    assert.deepEqual(m.subarray(0, 16), LOCAL);
    assert.deepEqual(m.subarray(16, 32), REMOTE);
    assert.deepEqual([...m.subarray(32)], [0x12, 0x34, 0xab, 0xcd]);
  });

  it('the ISN is SipHash of the address bytes, whatever ids the book gave them', () => {
    const book1 = new AddressBook(1);
    const l1 = book1.acquire(LOCAL);
    const r1 = book1.acquire(REMOTE);
    const book2 = new AddressBook(2);
    book2.acquire(ipv6Addr('fd00::99')); // shifts the ids
    const r2 = book2.acquire(REMOTE);
    const l2 = book2.acquire(LOCAL);
    assert.notEqual(l1, l2);
    const g1 = new IsnGenerator(SECRET, (a) => book1.bytesOf(a));
    const g2 = new IsnGenerator(SECRET, (a) => book2.bytesOf(a));
    assert.equal(g1.isn(l1, 80, r1, 5000, 0), g2.isn(l2, 80, r2, 5000, 0));
    const m = new Uint8Array(TUPLE6_BYTES_LEN);
    writeTuple6Bytes(m, LOCAL, 80, REMOTE, 5000);
    assert.equal(g1.isn(l1, 80, r1, 5000, 0), new SipHash24(SECRET).hash32(m));
    assert.notEqual(g1.isn(l1, 80, r1, 5000, 0), g1.isn(r1, 80, l1, 5000, 0), 'direction matters');
  });

  it('a cookie made while the SYN held one id checks out when the ACK finds another', () => {
    const book = new AddressBook(3);
    const cookies = new SynCookies(SECRET, (a) => book.bytesOf(a));
    const local = book.acquire(LOCAL);
    const remoteAtSyn = book.acquire(REMOTE);
    const cookie = cookies.encode(local, 80, remoteAtSyn, 5000, 1000, 1440, 0);
    book.release(remoteAtSyn);
    book.acquire(ipv6Addr('fd00::77')); // takes the freed id
    const remoteAtAck = book.acquire(REMOTE);
    assert.notEqual(remoteAtAck, remoteAtSyn);
    assert.equal(cookies.decode(local, 80, remoteAtAck, 5000, 1000, cookie, 1000), 1440);
    assert.equal(cookies.decode(local, 80, remoteAtAck, 5001, 1000, cookie, 1000), undefined, 'another port fails');
  });

  it('refuses to hash an IPv6 id it cannot resolve', () => {
    const g = new IsnGenerator(SECRET);
    assert.throws(() => g.isn(2 ** 32 + 5, 80, 2 ** 32 + 6, 5000, 0), RangeError);
  });
});
