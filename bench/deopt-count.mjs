// Counts `--trace-deopt` lines per phase of bench/deopt-trace.ts's output (stdin or a file):
// per phase, each deoptimized (or invalidated) function with its reason. `node bench/deopt-count.mjs out.txt`
import { readFileSync } from 'node:fs';

const text = readFileSync(process.argv[2] ?? 0, 'utf8');
let phase = 'start';
const phases = new Map([[phase, []]]);
for (const line of text.split('\n')) {
  const m = /^=== phase (\S+)/.exec(line);
  if (m) {
    phase = m[1];
    phases.set(phase, []);
    continue;
  }
  // [bailout (kind: deopt-eager, reason: wrong map): begin. deoptimizing 0x... <JSFunction name (sfi = ...)>, 0x... <Code TURBOFAN>, opt id N, bytecode offset N, ...]
  const d = /\[bailout \(kind: ([^,]+), reason: ([^)]+)\): begin\. deoptimizing \S+ <JSFunction ([^ >]*).*?bytecode offset (\d+)/.exec(line);
  // Optimized code thrown away without a bailout (a map it relied on was deprecated, a field's
  // representation widened, ...): `[marking dependent code ... <SharedFunctionInfo name>) ...`.
  const k = /\[marking dependent code .*?<SharedFunctionInfo ?([^>]*)>\).*reason: ([^\]]+)/.exec(line);
  if (k) phases.get(phase).push(`${k[1] || '(anonymous)'} invalidated: ${k[2]}`);
  if (d) phases.get(phase).push(`${d[3] === '(sfi' ? '(anonymous)' : d[3]} @${d[4]} ${d[1]}: ${d[2]}`);
}
for (const [name, list] of phases) {
  console.log(`${name}: ${list.length}`);
  for (const l of list) console.log(`  ${l}`);
}
