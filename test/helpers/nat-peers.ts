import assert from 'node:assert/strict';
import { lines } from './child-lines.js';
import { createKernelPeer, type KernelPeer } from './netns.js';

/**
 * The two namespaces of a nat's kernel-peer test: H plays the host, with `serverAddress`/32 on
 * its loopback and `serverScript` (Python that prints "listening" once its sockets are bound)
 * running there; NS is the namespace the nat will serve. No devices: the nat makes its own.
 */
export async function natPeers(serverAddress: string, serverScript: string): Promise<{ h: KernelPeer; ns: KernelPeer }> {
  const h = await createKernelPeer({ createTap: false });
  const ns = await createKernelPeer({ createTap: false });
  await h.ip(['addr', 'add', `${serverAddress}/32`, 'dev', 'lo']);
  const server = h.spawn('python3', ['-u', '-c', serverScript]);
  assert.equal(await lines(server)(), 'listening');
  return { h, ns };
}
