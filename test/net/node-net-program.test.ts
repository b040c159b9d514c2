import assert from 'node:assert/strict';
import nodeNet from 'node:net';
import { netPair, A_IP, B_IP, type NetPair } from './net-pair.js';
import { startUpperServer, converse, type ListeningServer } from './fixtures/upper-service.mjs';

function portOf(server: ListeningServer): number {
  const a = server.address();
  if (a === null || typeof a === 'string') throw new Error('not listening');
  return a.port;
}

const close = (server: ListeningServer): Promise<void> => new Promise((resolve) => server.close(() => resolve()));

describe('stack.net: a program written for node:net runs unchanged', () => {
  let p: NetPair;
  beforeEach(() => (p = netPair()));
  afterEach(() => p.close());

  it('the same functions against node:net (the kernel loopback) and against stack.net (two stacks) behave the same', async () => {
    const lines = ['hello', 'rx-netstack'];
    // Control: node:net itself, on the kernel's loopback.
    const kernelServer = await startUpperServer(nodeNet, 0, '127.0.0.1');
    const kernel = await converse(nodeNet, portOf(kernelServer), '127.0.0.1', lines);
    await close(kernelServer);
    assert.equal(kernel.reply, 'HELLO\nRX-NETSTACK\nBYE 127.0.0.1\n');

    // The same code, given stack.net instead of node:net.
    const server = await startUpperServer(p.b.net, 0, B_IP);
    const stack = await converse(p.a.net, portOf(server), B_IP, lines);
    assert.equal(stack.reply, `HELLO\nRX-NETSTACK\nBYE ${A_IP}\n`);
    assert.equal(stack.local, A_IP);
    await close(server);
  });

  it('the node:net error path too: a port nobody listens on rejects with ECONNREFUSED', async () => {
    await assert.rejects(converse(p.a.net, 4444, B_IP, ['x']), { code: 'ECONNREFUSED', syscall: 'connect', address: B_IP, port: 4444 });
  });
});
