// Preloaded into a node process (`--import=bench/kernel/heap-sampling.mjs`): runs V8's sampling
// heap profiler from the first SIGUSR2 (after a warm-up: start-up and compilation left out),
// objects the garbage collector has already collected included, and writes the profile as
// HEAP_PROFILE_DIR/heap-PID.json (default: the working directory) when the process exits.
// Used by serve-profile.ts to count bytes allocated per transaction.
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const session = new Session();
session.connect();
let sampling = false;
process.on('SIGUSR2', () => {
  if (sampling) return;
  sampling = true;
  session.post('HeapProfiler.startSampling', {
    samplingInterval: 4096,
    includeObjectsCollectedByMinorGC: true,
    includeObjectsCollectedByMajorGC: true,
  });
});
process.on('exit', () => {
  if (!sampling) return;
  // The main thread's session answers synchronously: the file is written before the exit.
  session.post('HeapProfiler.stopSampling', (err, r) => {
    if (err === null) writeFileSync(join(process.env.HEAP_PROFILE_DIR ?? '.', `heap-${process.pid}.json`), JSON.stringify(r.profile));
  });
});
