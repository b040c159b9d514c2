import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * A reader of a child's stdout, one line per call (10 s each at most; the rejection carries what
 * the child wrote to stderr so far): for tests that drive a scripted client line by line.
 */
export function lines(child: ChildProcess): () => Promise<string> {
  const queue: string[] = [];
  const waiting: Array<(line: string) => void> = [];
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const w = waiting.shift();
    if (w !== undefined) w(line);
    else queue.push(line);
  });
  return () =>
    new Promise((resolve, reject) => {
      const line = queue.shift();
      if (line !== undefined) return resolve(line);
      const timer = setTimeout(() => reject(new Error(`no line from the child in 10 s; stderr: ${err}`)), 10_000);
      waiting.push((l) => {
        clearTimeout(timer);
        resolve(l);
      });
    });
}
