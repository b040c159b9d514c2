/**
 * A protocol of your own on its own EtherType, beside IPv4 and ARP: two stacks on the memory
 * wire (no root) speak "shout", on 0x88b5 (IEEE's EtherType for local experiments): one
 * broadcasts a word, the other answers to its MAC with the word in capitals. Run it with:
 *
 *   node --import tsx examples/custom-ethertype.ts
 *
 *   link ── Ethernet ──┬── 0x0806 ARP
 *                      ├── 0x0800 IPv4 ...
 *                      └── 0x88b5 shout (this file)
 *
 * `stack.ethernetProtocol(type)` is the boundary between the Ethernet layer and a protocol:
 * frames of that EtherType go up (subscribing claims it), `{ dst, pb }` goes down and the
 * Ethernet layer writes the header in front.
 */
import { filter, firstValueFrom, map } from 'rxjs';
import { createMemoryWire, createStack, EtherType, PacketBuffer, type Boundary, type EthernetOut } from '../streams/index.js';

const SHOUT = 0x88b5;
const BROADCAST = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
const text = new TextDecoder();

/** Hands `word` down to the Ethernet layer, addressed to `dst`. */
function send(port: Boundary<Uint8Array, EthernetOut>, dst: Uint8Array, word: string): void {
  const bytes = new TextEncoder().encode(word);
  const pb = PacketBuffer.alloc(bytes.length); // with headroom for the Ethernet header
  pb.buf.set(bytes, pb.head);
  port.down.next({ dst, pb });
}

const [linkA, linkB] = createMemoryWire();
const a = createStack({ interfaces: [{ name: 'eth0', link: linkA, ipv4: ['198.18.0.1/24'] }] });
const b = createStack({ interfaces: [{ name: 'eth0', link: linkB, ipv4: ['198.18.0.2/24'] }] });

// B answers every shout to the sender's MAC (bytes 6..11 of the frame), in capitals.
const portB = b.ethernetProtocol(SHOUT);
const answering = portB.up$.subscribe((frame) => send(portB, frame.subarray(6, 12).slice(), text.decode(frame.subarray(14)).toUpperCase()));

// A shouts to everyone and waits for the answer.
const portA = a.ethernetProtocol(SHOUT);
const answer = firstValueFrom(portA.up$.pipe(map((frame) => text.decode(frame.subarray(14))), filter((w) => w.length > 0)));
send(portA, BROADCAST, 'hello');
console.log(`a: shouted "hello" on EtherType 0x${SHOUT.toString(16)}`);
console.log(`a: answer "${await answer}"`);
// IPv4 and ARP run beside it, untouched.
const reply = await firstValueFrom(a.icmp.ping('198.18.0.2'));
console.log(`a: ping 198.18.0.2 ok (seq ${reply.seq}); IPv4 is EtherType 0x0${EtherType.IPV4.toString(16)}`);
console.log(`b: unknown EtherTypes dropped ${b.stats()['eth:eth0'].drops.unknownEthertype}`);
answering.unsubscribe();
a.close();
b.close();
