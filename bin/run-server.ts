/**
 * Runs `serve` as a program: progress on stderr, the line `ready` on stdout once attached, clean
 * shutdown on SIGINT/SIGTERM (exit 0), exit 1 when setup fails or the device dies.
 *
 * Signals (see docs/cli.md "Stopping"): the handlers stay installed until the process exits.
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

/** What `runProgram` runs: set up, then stopped once. */
export interface Running {
  /** Undoes the setup. */
  close(): Promise<void>;
  /** The last line, after stopping (`stopped (...)`). */
  summary(): string;
}

export interface Starter<R extends Running> {
  /** Sets up; rejects (having undone what it did) when it cannot. */
  start(report: (line: string) => void, onFatal: (error: Error) => void): Promise<R>;
  /** Named when a second signal quits before the cleanup is done. */
  readonly leftBehind?: string;
  /** Lines printed on stderr right after `ready`. */
  afterReady?(running: R): readonly string[];
}

export async function runServer(args: ServeArgs, options: RunOptions = {}): Promise<void> {
  await runProgram<Server & Running>({
    start: async (report, onFatal) => {
      const server = await serve({ ...args, report, onFatal });
      const frames = (): number => server.stack.framesIn();
      return Object.assign(server, { summary: () => `stopped (${frames()} frames received)` });
    },
    ...(args.netns === undefined ? {} : { leftBehind: `namespace ${args.netns}` }),
    afterReady: (server) => options.afterReady?.(server) ?? [],
  });
}

/**
 * Runs a program that sets something up and keeps it until SIGINT/SIGTERM: `ready` on stdout
 * once set up, exit 0 after a signal (the setup undone), 1 when setup fails or `onFatal` is
 * called. See the file comment for the signal rules.
 */
export async function runProgram<R extends Running>(starter: Starter<R>): Promise<void> {
  let running: R | undefined;
  /** Set by the first SIGINT/SIGTERM or a fatal error. */
  let stopRequest: { readonly at: number; readonly code: number } | undefined;
  let stopping = false;

  const stop = async (code: number): Promise<void> => {
    if (stopping || running === undefined) return;
    stopping = true;
    await running.close();
    say(running.summary());
    process.exit(code);
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    const now = Date.now();
    if (stopRequest === undefined) {
      stopRequest = { at: now, code: 0 };
      say(running === undefined ? `${signal}: stopping once setup is done (then undoing it)` : `${signal}: stopping (undoing the setup)`);
      void stop(0);
    } else if (now - stopRequest.at > REPEAT_GRACE_MS) {
      say(`${signal} again: quitting without finishing cleanup${starter.leftBehind === undefined ? '' : ` (${starter.leftBehind} may be left)`}`);
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    running = await starter.start(say, (error) => {
      say(`link failed: ${error.message}`);
      stopRequest ??= { at: Date.now(), code: 1 };
      void stop(1);
    });
  } catch (error) {
    const e = error as Error & { code?: string };
    if (stopRequest !== undefined) {
      // Interrupted setup (an `ip` child killed by the same Ctrl-C): the starter has undone it.
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
  for (const line of starter.afterReady?.(running) ?? []) say(line);
}
