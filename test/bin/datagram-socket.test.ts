/**
 * The addon's DatagramSocket (native/datagram-socket.c) against a node:dgram server in this
 * process (127.0.0.1, an ephemeral port: nothing configured anywhere): what onMessage() finds in
 * the module's datagramRead / datagramReadBuffer, and the one-read-per-wake-up rule of
 * request/response, which must not lose or hold back a burst that arrives after it set in.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { DATAGRAM_READ, loadTapAddon } from '../../streams/links/tap-native.js';

const LOOPBACK = 0x7f000001;

describe('addon DatagramSocket', () => {
  let server: Socket;
  let port: number;
  beforeEach(async () => {
    server = createSocket('udp4');
    await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve));
    port = server.address().port;
  });
  afterEach(() => server.close());

  it('after request/response rounds (one read per wake-up), a burst of 200 datagrams arrives whole and in order, each with its source in datagramRead', async () => {
    // The server echoes, except 'burst', which it answers with 200 numbered datagrams at once.
    server.on('message', (m, r) => {
      if (m.toString() !== 'burst') server.send(m, r.port, r.address);
      else for (let i = 0; i < 200; i++) server.send(Buffer.from(`b${i}`), r.port, r.address);
    });
    const addon = loadTapAddon();
    const bytes = new Uint8Array(addon.datagramReadBuffer);
    const read = addon.datagramRead;
    const got: string[] = [];
    const sources = new Set<string>();
    let wake: () => void = () => undefined;
    const socket = new addon.DatagramSocket(
      'udp',
      () => {
        const offset = read[DATAGRAM_READ.offset];
        got.push(Buffer.from(bytes.subarray(offset, offset + read[DATAGRAM_READ.length])).toString());
        sources.add(`${read[DATAGRAM_READ.address]}:${read[DATAGRAM_READ.port]}`);
        wake();
      },
      () => undefined,
    );
    const until = (n: number): Promise<void> =>
      new Promise<void>((resolve) => {
        wake = () => void (got.length >= n && resolve());
        wake();
      });
    try {
      assert.equal(socket.connect(LOOPBACK, port), 0);
      for (let i = 0; i < 20; i++) {
        assert.equal(socket.send(Buffer.from(`r${i}`)), 0);
        await until(i + 1);
      }
      assert.equal(socket.send(Buffer.from('burst')), 0);
      await until(220);
      assert.deepEqual(got, [...Array.from({ length: 20 }, (_, i) => `r${i}`), ...Array.from({ length: 200 }, (_, i) => `b${i}`)]);
      assert.deepEqual([...sources], [`${LOOPBACK}:${port}`]);
    } finally {
      socket.close();
    }
  });

  it('send takes only a Uint8Array: anything else throws ERR_INVALID_ARG_TYPE', () => {
    const socket = new (loadTapAddon().DatagramSocket)('udp', () => undefined, () => undefined);
    try {
      assert.throws(() => socket.send('x' as unknown as Uint8Array), { code: 'ERR_INVALID_ARG_TYPE' });
      assert.throws(() => socket.send(new Uint16Array(2) as unknown as Uint8Array), { code: 'ERR_INVALID_ARG_TYPE' });
    } finally {
      socket.close();
    }
  });
});
