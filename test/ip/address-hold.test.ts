import assert from 'node:assert/strict';
import { AddressBook, IP_ANY6 } from '../../src/ip/address-book.js';
import { AddressHold } from '../../src/ip/address-hold.js';
import { parseIpv6 } from '../../src/ipv6/address.js';

const addr = (i: number) => parseIpv6(`fd00::${(i + 1).toString(16)}`)!;

describe('ip: AddressHold', () => {
  it('holds the ids of the last N addresses, and gives each back N holds later', () => {
    const book = new AddressBook(1);
    const hold = new AddressHold(book, 3);
    const first = hold.hold(addr(0));
    assert.equal(book.refCount(first), 1);
    hold.hold(addr(1));
    hold.hold(addr(2));
    assert.equal(book.bytesOf(first)?.[15], 1, 'still held after 2 more');
    hold.hold(addr(3));
    assert.equal(book.bytesOf(first), undefined, 'released by the 4th hold');
    assert.equal(book.size, 1 + 3);
  });

  it('never lets the book grow past N, whatever the number of strangers', () => {
    const book = new AddressBook(2);
    const hold = new AddressHold(book, 16);
    for (let i = 0; i < 1000; i++) hold.hold(addr(i));
    assert.equal(book.size, 1 + 16);
    hold.clear();
    assert.equal(book.size, 1);
  });

  it('an id held elsewhere keeps its owner\'s reference; `::` is never counted', () => {
    const book = new AddressBook(3);
    const owned = book.acquire(addr(7));
    const hold = new AddressHold(book, 2);
    assert.equal(hold.holdId(owned), owned);
    assert.equal(book.refCount(owned), 2);
    hold.hold(addr(8));
    hold.hold(addr(9));
    assert.equal(book.refCount(owned), 1);
    assert.equal(hold.hold(new Uint8Array(16)), IP_ANY6);
    assert.equal(hold.holdId(IP_ANY6), IP_ANY6);
    assert.throws(() => new AddressHold(book, 0), RangeError);
  });
});
