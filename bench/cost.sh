#!/usr/bin/env bash
# Per-connection and per-segment cost of TCP, counted rather than timed: instructions under
# valgrind's cachegrind (JIT code included) and bytes allocated from V8's GC trace, each as the
# difference of two runs of different sizes divided by the difference in work.
#
#   bench/cost.sh [tree]                 # tree: a checkout of this repository (default: this one)
#   WHAT=core bench/cost.sh              # the TCP core alone (bench/core-cost.ts) instead of
#                                        # the whole stack on the memory wire (bench/memory-cost.ts)
#   ONLY=crr bench/cost.sh               # or ONLY=bulk
#   CRR="200 2200" BULK="8 72" bench/cost.sh
#   COST_TCP='{"sack":false}' bench/cost.sh   # TCP options for both ends
#   COST_ECHO=service bench/cost.sh           # B echoes with streams/services/echo.ts
#
# The workload script is taken from this checkout and run against the tree's compiled code, so
# an older tree runs exactly the same workload. Everything runs compiled, without a TypeScript
# loader: a loader thread adds start-up work that varies from run to run.
#
# Run-to-run variation: V8's garbage-collection schedule normally follows wall-clock allocation
# rates (and a timer-driven memory reducer), which makes instruction counts depend on the load
# of the machine; --predictable-gc-schedule fixes that. The memory wire's timers (TIME-WAIT,
# delayed ACK) still run on the wall clock, so its figures vary by a few per cent; the core's
# (virtual time) much less. Repeat a run to see the spread. Slow under valgrind: minutes.
set -euo pipefail
tree=$(cd "${1:-$(dirname "$0")/..}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
what=${WHAT:-memory}
case "$what" in
  memory) script=memory-cost; read -r c1 c2 <<<"${CRR:-200 1200}"; read -r b1 b2 <<<"${BULK:-8 72}" ;;
  core) script=core-cost; read -r c1 c2 <<<"${CRR:-200 2200}"; read -r b1 b2 <<<"${BULK:-8 136}" ;;
  *) echo "WHAT is memory or core" >&2; exit 2 ;;
esac
tmp=$(mktemp -d)
# The compiled tree and the compiled script, inside the tree so that imports find its
# node_modules and package.json ("type": "module").
dist="$tree/bench/.cost-dist-$$"
trap 'rm -rf "$tmp" "$dist"' EXIT
cd "$tree"
npx tsc -p tsconfig.build.json --outDir "$dist" >/dev/null
npx esbuild "$here/$script.ts" --format=esm --platform=node --log-level=warning --outfile="$dist/bench/$script.js"
# The helpers the script imports (bench/lib/crr.ts), compiled beside it (esbuild does not bundle here).
npx esbuild "$here"/lib/*.ts --format=esm --platform=node --log-level=warning --outdir="$dist/bench/lib"
export COST_DIST="$dist"
run="$dist/bench/$script.js"

instr() { # mode size -> "instructions segments" of the whole process
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$tmp/cg.%p" \
    node --single-threaded --predictable-gc-schedule "$run" "$1" "$2" >"$tmp/out" 2>"$tmp/err"
  printf '%s %s\n' "$(grep 'I *refs' "$tmp/err" | tail -1 | sed 's/.*refs: *//; s/,//g')" \
    "$(tail -1 "$tmp/out" | sed 's/.*"segments[A-Za-z]*"://; s/[^0-9].*//')"
}
alloc() { # mode size -> "bytes gcs json" of the measured part
  # V8 prints its trace on stdout, the marks go to stderr: one file keeps their order.
  node --expose-gc --predictable-gc-schedule --trace-gc-nvp "$run" "$1" "$2" >"$tmp/all" 2>&1
  awk '/MEASURE-START/{on=1; next} /MEASURE-END/{on=0} on && /allocated=/ {
         for (i = 1; i <= NF; i++) if ($i ~ /^allocated=/) { split($i, kv, "="); sum += kv[2]; n++ } }
       END { printf "%d %d", sum, n }' "$tmp/all"
  printf ' %s\n' "$(grep '^{' "$tmp/all" | tail -1)"
}

echo "tree: $tree ($(git -C "$tree" rev-parse --short HEAD 2>/dev/null || echo 'not a git checkout')), $what, COST_TCP=${COST_TCP:-}, COST_ECHO=${COST_ECHO:-}"
if [ "${ONLY:-crr}" = crr ]; then
  read -r i1 _ < <(instr crr "$c1"); read -r i2 _ < <(instr crr "$c2")
  echo "crr instructions: $c1 -> $i1, $c2 -> $i2; per connection $(( (i2 - i1) / (c2 - c1) ))"
  read -r a1 _ _ < <(alloc crr "$c1"); read -r a2 g2 j2 < <(alloc crr "$c2")
  echo "crr allocated: per connection $(( (a2 - a1) / (c2 - c1) )) bytes ($g2 GCs in the larger run); $j2"
fi
if [ "${ONLY:-bulk}" = bulk ]; then
  read -r bi1 s1 < <(instr bulk "$b1"); read -r bi2 s2 < <(instr bulk "$b2")
  echo "bulk instructions: $b1 MiB -> $bi1, $b2 MiB -> $bi2; per MiB $(( (bi2 - bi1) / (b2 - b1) )), per segment sent $(( (bi2 - bi1) / (s2 - s1) )) ($((s2 - s1)) segments)"
  read -r ba1 _ _ < <(alloc bulk "$b1"); read -r ba2 bg2 k2 < <(alloc bulk "$b2")
  echo "bulk allocated: per MiB $(( (ba2 - ba1) / (b2 - b1) )) bytes ($bg2 GCs in the larger run); $k2"
fi
