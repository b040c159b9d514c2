/**
 * Two stacks on an in-memory wire (no root, no TAP), for stack.net tests:
 *
 *   a 198.18.0.1  <== memory wire ==>  b 198.18.0.2
 */
import { once } from 'node:events';
import { createMemoryWire, createStack, type NetServer, type Stack } from '../../streams/index.js';
import type { TcpConfig } from '../../src/tcp/config.js';

export const A_IP = '198.18.0.1';
export const B_IP = '198.18.0.2';

export interface NetPair {
  readonly a: Stack;
  readonly b: Stack;
  close(): void;
}

export interface NetPairOptions {
  readonly tcpA?: Partial<TcpConfig>;
  readonly tcpB?: Partial<TcpConfig>;
  /** ARP of stack a (e.g. quick failure: `{ maxRequests: 1, retransmitIntervalMs: 50 }`). */
  readonly arpA?: { maxRequests?: number; retransmitIntervalMs?: number };
}

export function netPair(options: NetPairOptions = {}): NetPair {
  const [wa, wb] = createMemoryWire();
  const a = createStack({ interfaces: [{ name: 'eth0', link: wa, ipv4: [`${A_IP}/24`] }], tcp: options.tcpA, arp: options.arpA });
  const b = createStack({ interfaces: [{ name: 'eth0', link: wb, ipv4: [`${B_IP}/24`] }], tcp: options.tcpB });
  return { a, b, close: () => { a.close(); b.close(); } };
}

/** Resolves once `server` is listening, with its port. */
export async function listening(server: NetServer): Promise<number> {
  if (!server.listening) await once(server, 'listening');
  const address = server.address();
  if (address === null) throw new Error('not listening');
  return address.port;
}

/** Everything a readable gives until its end, as one Buffer. */
export async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(parts);
}
