// Bytes allocated per operation from a sampling heap profile (heap-sampling.mjs), and where:
//   node bench/kernel/heap-per-op.mjs PROFILE.json OPERATIONS [TOP=30]
// Each line: bytes per operation allocated by a function, with its three callers.
import { readFileSync } from 'node:fs';

const [file, ops, top = '30'] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const n = Number(ops);
const name = (cf) => `${cf.functionName || '(anonymous)'} ${cf.url.split('/').slice(-2).join('/')}:${cf.lineNumber + 1}`;
const sites = new Map();
let total = 0;
const walk = (node, stack) => {
  const here = [...stack, name(node.callFrame)];
  if (node.selfSize > 0) {
    const key = `${here.at(-1)}  <=  ${here.slice(-4, -1).reverse().join(' <= ')}`;
    sites.set(key, (sites.get(key) ?? 0) + node.selfSize);
    total += node.selfSize;
  }
  for (const child of node.children) walk(child, here);
};
walk(profile.head, []);
console.log(`bytes per operation: ${(total / n).toFixed(0)} (${total} over ${n})`);
for (const [k, v] of [...sites].sort((a, b) => b[1] - a[1]).slice(0, Number(top))) console.log(`${(v / n).toFixed(0).padStart(7)}  ${k}`);
