import { Subscription } from 'rxjs';
import type { Stack } from '../stack/create-stack.js';
import { NetstackError } from '../../src/errors.js';
import { udpEchoService } from './udp-echo.js';
import { echoService } from './echo.js';
import { discardService } from './discard.js';
import { chargenService } from './chargen.js';
import { httpService } from './http.js';

/** A service: starts on `port` of `stack` at once (throwing e.g. EADDRINUSE), stops on unsubscribe. */
export type ServiceStarter = (stack: Stack, port: number) => Subscription;

/**
 * The services `rx-netstack serve --services` can run, by name. Each is a plain function over the
 * public API, usable from a program as well.
 */
export const SERVICES: Readonly<Record<string, ServiceStarter>> = {
  echo: (stack, port) => echoService(stack, port),
  discard: (stack, port) => discardService(stack, port),
  chargen: (stack, port) => chargenService(stack, port),
  http: (stack, port) => httpService(stack, port),
  'udp-echo': (stack, port) => udpEchoService(stack, port),
};

export { echoService, echoConnection } from './echo.js';
export { discardService, discardConnection } from './discard.js';
export { chargenService, chargenConnection, CHARGEN_CYCLE } from './chargen.js';
export { httpService, httpServiceHandler, HTTP_SERVICE_BODY } from './http.js';
export { udpEchoService } from './udp-echo.js';
export { tcpService, type ConnectionHandler } from './tcp-service.js';

/** Starts every listed service; on a failure stops those already started and rethrows. */
export function startServices(stack: Stack, specs: ReadonlyArray<{ readonly name: string; readonly port: number }>): Subscription {
  const all = new Subscription();
  for (const spec of specs) {
    const start = SERVICES[spec.name];
    if (start === undefined) {
      all.unsubscribe();
      throw new NetstackError('ERR_INVALID_ARG_VALUE', `service "${spec.name}" is not available (available: ${Object.keys(SERVICES).join(', ') || 'none'})`);
    }
    try {
      all.add(start(stack, spec.port));
    } catch (err) {
      all.unsubscribe();
      throw err;
    }
  }
  return all;
}
