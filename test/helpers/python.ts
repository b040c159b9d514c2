/**
 * A python3 program in a kernel-peer namespace that prints `ready` once it listens (or has set
 * itself up): the kernel-side server of a kernel-peer test.
 */
import type { ChildProcess } from 'node:child_process';
import type { KernelPeer } from './netns.js';

/** How long a program may take to print `ready`. */
const READY_MS = 5000;

/**
 * Starts `source` with `python3 -u -c` inside the peer's namespace and resolves once it printed
 * `ready`, with `done`, the promise of its output when it exits (rejected on a non-zero exit).
 * The program is killed by PID after `timeoutMs`.
 */
export async function startPython(peer: KernelPeer, source: string, timeoutMs: number): Promise<{ child: ChildProcess; done: Promise<string> }> {
  const child = peer.spawn('python3', ['-u', '-c', source]);
  let out = '';
  let err = '';
  child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<string>((resolve, reject) => {
    child.once('exit', (code, signal) => {
      clearTimeout(killer);
      if (code === 0) resolve(out);
      else reject(new Error(`python exited ${code ?? signal}: ${err}${out}`));
    });
  });
  done.catch(() => undefined);
  let notReady: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes('ready\n')) resolve();
      });
      done.then(() => reject(new Error(`python ended before ready: ${out}`)), reject);
      notReady = setTimeout(() => reject(new Error(`python never printed ready: ${err}`)), READY_MS);
    });
  } finally {
    clearTimeout(notReady);
  }
  return { child, done };
}

/**
 * Python lines that open the listening TCP socket `ls` on `host:port` (SO_REUSEADDR, backlog 1),
 * for the kernel-side servers of the tests; the script imports `socket` itself.
 */
export function pyListen(host: string, port: number): string {
  return `ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(('${host}', ${port}))
ls.listen(1)`;
}

/**
 * Python source of `read_to_eof(s)`: every byte the socket `s` receives until the peer ends its
 * side (its FIN), as bytes. Defined at the top level of a script, before its first use.
 */
export const PY_READ_TO_EOF = `def read_to_eof(s):
    got = bytearray()
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            return bytes(got)
        got += chunk
`;
