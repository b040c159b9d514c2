import type { Stack } from '../stack/create-stack.js';
import { formatIpv4 } from '../../src/ipv4/address.js';
import { formatIpv6, isIpv6LinkLocal } from '../../src/ipv6/address.js';
import { IP_ANY6, parseIpAddr } from '../../src/ip/address-book.js';
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
    ipv6: stack.ipv6 !== undefined,
    localhostAddress: () => {
      for (const iface of stack.interfaces) {
        const first = iface.addresses[0];
        if (first !== undefined) return formatIpv4(first.address);
      }
      if (stack.ipv6 === undefined) return undefined;
      for (const iface of stack.interfaces) {
        const global = iface.ipv6Addresses.find((a) => !isIpv6LinkLocal(a.address));
        if (global !== undefined) return formatIpv6(global.address);
      }
      return undefined;
    },
    freePort: (address, dualStack) => {
      const parsed = parseIpAddr(address);
      if (parsed === undefined) return undefined;
      // An IPv6 address is checked as '::' (v6-only): a port free there is free on each of them.
      const addr = parsed.family === 4 ? parsed.v4 : IP_ANY6;
      const options = { dualStack: dualStack && addr === IP_ANY6 };
      // Found by the port manager, then released: listen() reserves it again at once
      // (synchronously, so nothing can take it in between).
      // A port nothing holds in either family comes first: families are otherwise independent
      // (0.0.0.0 and a v6-only '::' may share a port), and two servers asking for "any port"
      // would then get the same one by chance, each seeing only its family's clients.
      const ports = stack.tcpLayer.ports;
      const port = ports.allocateEphemeral(addr, (p) => ports.isUnused(p), options) ?? ports.allocateEphemeral(addr, undefined, options);
      if (port !== undefined) ports.release(addr, port);
      return port;
    },
  });
}
