import { createKernelPeer } from './test/helpers/netns.js';
import { createStack } from './streams/stack/create-stack.js';
import { discardService } from './streams/services/discard.js';
import { TcpSegment } from './src/wire/tcp.js';
let verifies = 0;
const orig = TcpSegment.prototype.verifyChecksum;
TcpSegment.prototype.verifyChecksum = function (this: TcpSegment, s: number, d: number) { verifies++; return orig.call(this, s, d); };
const peer = await createKernelPeer();
try {
  const link = peer.attach({ mac: '02:00:00:00:00:02' });
  const stack = createStack({ interfaces: [{ name: 'eth0', link, ipv4: ['198.18.0.2/24'] }] });
  const svc = discardService(stack, 9);
  await peer.python(`
import socket
s = socket.create_connection(('198.18.0.2', 9))
buf = b'x' * (1 << 20)
for i in range(100): s.sendall(buf)
s.close()
`);
  await new Promise((r) => setTimeout(r, 200));
  const st = stack.stats();
  console.log('segments in', st.tcp.rxSegments, 'checksums verified in JS', verifies, 'link vouches', typeof (link as any).checksumVerified);
  svc.unsubscribe(); stack.close();
} finally { await peer.destroy(); }
