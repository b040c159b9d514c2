import type { Stack } from '../stack/create-stack.js';
import { formatIpv4, parseIpv4 } from '../../src/ipv4/address.js';
import { createNet, type NetModule } from './create-net.js';
import { KeepAliveHolder } from './keep-alive.js';

/**
 * `stack.net` for a stack (made once, on first use). `keepAlive` is the stack's holder (tests
 * pass their own to watch it).
 */
export function createStackNet(stack: Stack, keepAlive = new KeepAliveHolder()): NetModule {
  return createNet({
    tcp: stack.tcp,
    scheduler: stack.scheduler,
    keepAlive,
    localhostAddress: () => {
      for (const iface of stack.interfaces) {
        const first = iface.addresses[0];
        if (first !== undefined) return formatIpv4(first.address);
      }
      return undefined;
    },
    freePort: (address) => {
      const addr = parseIpv4(address);
      if (addr === undefined) return undefined;
      // Found by the port manager, then released: listen() reserves it again at once
      // (synchronously, so nothing can take it in between).
      const ports = stack.tcpLayer.ports;
      const port = ports.allocateEphemeral(addr);
      if (port !== undefined) ports.release(addr, port);
      return port;
    },
  });
}
