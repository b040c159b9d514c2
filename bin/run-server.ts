/**
 * Runs `serve` as a program: progress on stderr, the line `ready` on stdout once attached, clean
 * shutdown on SIGINT/SIGTERM (exit 0), exit 1 when setup fails or the device dies.
 */
import type { ServeArgs } from './cli-args.js';
import { serve, type Server } from './serve.js';

export interface RunOptions {
  /** Lines printed on stderr right after `ready` (how to reach the stack, ...). */
  readonly afterReady?: (server: Server) => readonly string[];
}

const say = (line: string): void => {
  process.stderr.write(`rx-netstack: ${line}\n`);
};

/** A hint for the errors a user can fix. */
export function hintFor(error: Error & { code?: string }): string | undefined {
  switch (error.code) {
    case 'EPERM':
    case 'EACCES':
      return 'this needs root (CAP_NET_ADMIN for the TAP device, CAP_SYS_ADMIN for --netns): run it with sudo';
    case 'ENOENT':
      return /tun/.test(error.message) ? 'the TUN/TAP driver is missing (/dev/net/tun)' : undefined;
    case 'EBUSY':
      return 'another process holds this TAP device';
    default:
      return /spawn ip ENOENT|ip: not found/.test(error.message) ? 'the `ip` command is missing: apt-get install iproute2' : undefined;
  }
}

export async function runServer(args: ServeArgs, options: RunOptions = {}): Promise<void> {
  let server: Server | undefined;
  let stopping = false;
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    if (server !== undefined) {
      const frames = server.stack.framesIn();
      await server.close();
      say(`stopped (${frames} frames received)`);
    }
    process.exit(code);
  };
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));

  try {
    server = await serve({
      ...args,
      report: say,
      onFatal: (error) => {
        say(`link failed: ${error.message}`);
        void stop(1);
      },
    });
  } catch (error) {
    const e = error as Error & { code?: string };
    say(`cannot start: ${e.message}`);
    const hint = hintFor(e);
    if (hint !== undefined) say(hint);
    process.exit(1);
  }
  process.stdout.write('ready\n');
  for (const line of options.afterReady?.(server) ?? []) say(line);
}
