import assert from 'node:assert/strict';
import * as tcp from '../../src/tcp/index.js';
import { Harness, LOCAL_ADDR, REMOTE_ADDR } from './harness.js';
import { IPV6_ID_BASE } from '../../src/ip/address-book.js';

describe('tcp/index', () => {
  it('exports the public API of the core', () => {
    for (const name of ['TcpConnectionCore', 'TcpListener', 'rstForSegment', 'IsnGenerator', 'resolveTcpConfig', 'clampMssToMtu', 'NewReno', 'createTcpCounters', 'addTcpCounters', 'seqLt']) {
      assert.ok(name in tcp, name);
    }
  });

  it('toString names the 4-tuple for logs', () => {
    assert.equal(new Harness().conn.toString(), '198.18.0.2:80-198.18.0.1:49500');
    assert.equal(LOCAL_ADDR >>> 24, 198);
    assert.equal(REMOTE_ADDR & 0xff, 1);
  });

  it('toString shows an IPv6 address by its address-book id (the core has no book), never as IPv4 text', () => {
    const v6 = new tcp.TcpConnectionCore({
      localAddr: IPV6_ID_BASE + 1, localPort: 80, remoteAddr: IPV6_ID_BASE + 7, remotePort: 49500,
      iss: 1, host: { send: () => undefined }, config: tcp.resolveTcpConfig({}),
    });
    assert.equal(v6.toString(), '[v6 #1]:80-[v6 #7]:49500');
  });
});
