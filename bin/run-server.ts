/**
 * Runs `serve` as a program: progress on stderr, the line `ready` on stdout once attached, clean
 * shutdown on SIGINT/SIGTERM (exit 0), exit 1 when setup fails or the device dies.
 *
 * Signals (see docs/cli.md, "Stopping"): the handlers stay installed until the process exits.
 * A Ctrl-C typed under `npm start` or `npx` arrives twice (from the terminal, and forwarded by
 * npm), and sudo may relay it once more; with a one-shot handler the repeat found the default
 * action back in place and killed the process half-way through its cleanup, leaving the
 * namespace behind. Repeats within REPEAT_GRACE_MS of the first are taken as the same request;
 * a signal after that, while cleanup still runs, quits at once (saying so). A signal during
 * setup does not exit on the spot either: setup finishes or fails, and is then undone.
 */
import type { ServeArgs } from './cli-args.js';
import { serve, type Server } from './serve.js';

export interface RunOptions {
  /** Lines printed on stderr right after `ready` (how to reach the stack, ...). */
  readonly afterReady?: (server: Server) => readonly string[];
}

/** A second signal this soon after the first is a duplicate delivery, not an impatient user. */
const REPEAT_GRACE_MS = 1000;

const say = (line: string): void => {
  process.stderr.write(`rx-netstack: ${line}\n`);
};

/** A hint for the errors a user can fix. */
export function hintFor(error: Error & { code?: string }): string | undefined {
  switch (error.code) {
    case 'EPERM':
    case 'EACCES':
      return 'this needs root (CAP_NET_ADMIN for the TAP device, CAP_SYS_ADMIN for --netns): run it with sudo, or as root';
    case 'ENOENT':
      return /tun/.test(error.message) ? 'the TUN/TAP driver is missing (/dev/net/tun)' : undefined;
    case 'EBUSY':
      return 'another process holds this TAP device';
    default:
      if (/spawn ip ENOENT|ip: not found/.test(error.message)) return 'the `ip` command is missing: apt-get install iproute2';
      return /Operation not permitted|Permission denied/.test(error.message) ? 'this needs root: run it with sudo, or as root' : undefined;
  }
}

export async function runServer(args: ServeArgs, options: RunOptions = {}): Promise<void> {
  let server: Server | undefined;
  /** Set by the first SIGINT/SIGTERM or a fatal link error. */
  let stopRequest: { readonly at: number; readonly code: number } | undefined;
  let stopping = false;

  const stop = async (code: number): Promise<void> => {
    if (stopping || server === undefined) return;
    stopping = true;
    const frames = server.stack.framesIn();
    await server.close();
    say(`stopped (${frames} frames received)`);
    process.exit(code);
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    const now = Date.now();
    if (stopRequest === undefined) {
      stopRequest = { at: now, code: 0 };
      say(server === undefined ? `${signal}: stopping once setup is done (then undoing it)` : `${signal}: stopping (undoing the setup)`);
      void stop(0);
    } else if (now - stopRequest.at > REPEAT_GRACE_MS) {
      say(`${signal} again: quitting without finishing cleanup${args.netns === undefined ? '' : ` (namespace ${args.netns} may be left)`}`);
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    server = await serve({
      ...args,
      report: say,
      onFatal: (error) => {
        say(`link failed: ${error.message}`);
        stopRequest ??= { at: Date.now(), code: 1 };
        void stop(1);
      },
    });
  } catch (error) {
    const e = error as Error & { code?: string };
    if (stopRequest !== undefined) {
      // Interrupted setup (an `ip` child killed by the same Ctrl-C): serve() has undone it.
      say('stopped during setup');
      process.exit(stopRequest.code);
    }
    say(`cannot start: ${e.message}`);
    const hint = hintFor(e);
    if (hint !== undefined) say(hint);
    process.exit(1);
  }
  if (stopRequest !== undefined) {
    await stop(stopRequest.code);
    return;
  }
  process.stdout.write('ready\n');
  for (const line of options.afterReady?.(server) ?? []) say(line);
}
