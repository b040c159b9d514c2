import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { describeKernelPeer, useKernelPeer } from '../helpers/netns.js';
import { runExample } from './run-example.js';

describeKernelPeer('examples/tcp-client.ts (TAP, in a test namespace)', () => {
  const peer = useKernelPeer();

  it('connects to a kernel server, sends its message, prints the answer, exits 0', async () => {
    // The kernel-side server: reads to EOF, answers in upper case, closes.
    const server: ChildProcess = peer().spawn('python3', ['-u', '-c', `import socket
l = socket.create_server(('198.18.0.1', 5000))
print('ready', flush=True)
c, addr = l.accept()
data = b''.join(iter(lambda: c.recv(4096), b''))
c.sendall(data.upper())
c.close()
print('served', addr[0], len(data), flush=True)`]);
    let served = '';
    server.stdout!.on('data', (b: Buffer) => (served += b.toString()));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('python server not ready')), 5000);
      server.stdout!.on('data', () => served.includes('ready\n') && (clearTimeout(t), resolve()));
    });
    const run = await runExample('examples/tcp-client.ts', [
      '--tap', peer().tapName, '--netns', peer().netns, '--to', '198.18.0.1:5000', '--message', 'hello kernel, this is the stack\n',
    ]);
    assert.equal(run.code, 0, `exit ${run.code ?? run.signal}; stderr: ${run.stderr}`);
    assert.match(run.stdout, /^connected 198\.18\.0\.2:\d+ -> 198\.18\.0\.1:5000$/m);
    assert.match(run.stdout, /^reply \(32 bytes\): "HELLO KERNEL, THIS IS THE STACK\\n"$/m);
    assert.match(run.stdout, /^closed \(32 bytes sent, 32 received\)$/m);
    assert.equal(run.stderr, '');
    await new Promise<void>((resolve) => (server.exitCode !== null ? resolve() : server.once('exit', () => resolve())));
    assert.match(served, /^served 198\.18\.0\.2 32$/m);
  }).timeout(30_000);

  it('says ECONNREFUSED and exits 1 when nothing listens', async () => {
    const run = await runExample('examples/tcp-client.ts', ['--tap', peer().tapName, '--netns', peer().netns, '--to', '198.18.0.1:5001']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^connection failed: ECONNREFUSED/m);
  }).timeout(30_000);
});
