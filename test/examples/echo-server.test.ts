import assert from 'node:assert/strict';
import { describeKernelPeer, useKernelPeer } from '../helpers/netns.js';
import { PY_READ_TO_EOF } from '../helpers/python.js';
import { startExample, type RunningExample } from './run-example.js';

describeKernelPeer('examples/echo-server.ts (TAP, in a test namespace)', () => {
  const peer = useKernelPeer();
  let server: RunningExample | undefined;
  afterEach(async () => {
    await server?.stop('SIGKILL');
    server = undefined;
  });

  it('echoes a kernel client byte-exact, logs the connection, stops cleanly on SIGTERM', async () => {
    server = startExample('examples/echo-server.ts', ['--tap', peer().tapName, '--netns', peer().netns]);
    await server.waitForLine(/^ready$/);
    assert.match(server.stdout(), new RegExp(`^echo server at 198\\.18\\.0\\.2:7 on TAP ${peer().tapName} in netns ${peer().netns}$`, 'm'));
    const out = await peer().python(`import socket, threading
${PY_READ_TO_EOF}data = bytes((i * 13 + (i >> 10)) & 0xff for i in range(300000))
s = socket.create_connection(('198.18.0.2', 7), timeout=10)
threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR))).start()
got = read_to_eof(s)
print('port', s.getsockname()[1])
print('ok' if bytes(got) == data else 'mismatch %d' % len(got))`, [], { timeoutMs: 20_000 });
    const [, port] = /^port (\d+)$/m.exec(out)!;
    assert.match(out, /^ok$/m);
    await server.waitForLine(new RegExp(`^- 198\\.18\\.0\\.1:${port}: 300000 bytes echoed$`));
    assert.match(server.stdout(), new RegExp(`^\\+ 198\\.18\\.0\\.1:${port}$`, 'm'));
    const end = await server.stop('SIGTERM');
    assert.equal(end.code, 0, `exit ${end.code ?? end.signal}; stderr: ${end.stderr}`);
    assert.match(end.stdout, /^stopped$/m);
    assert.equal(end.stderr, '');
  }).timeout(40_000);
});
