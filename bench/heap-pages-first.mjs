/**
 * `node --import ./bench/heap-pages-first.mjs SCRIPT`: sets where V8 maps its heap pages
 * (streams/links/heap-pages.ts) from RX_BENCH_HEAP_PAGES (packed, huge or off; default packed)
 * before SCRIPT's modules load, as bin/rx-netstack.ts does before it imports the stack. For the
 * harnesses that build a stack in-process (bench/nat-rr-js.ts): set late, after the stack's
 * modules, two thirds of the heap's pages would already lie at V8's random addresses (session 17).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const mode = process.env.RX_BENCH_HEAP_PAGES ?? 'packed';
let dir = dirname(fileURLToPath(import.meta.url));
for (let i = 0; i < 4 && !existsSync(join(dir, 'build', 'Release', 'rx_tap.node')); i++) dir = dirname(dir);
const stats = createRequire(import.meta.url)(join(dir, 'build', 'Release', 'rx_tap.node')).setHeapPages(mode);
if (mode !== 'off' && !stats.installed) throw new Error(`heap pages ${mode} not applied: ${stats.reason}`);
