#!/usr/bin/env bash
# Per-connection and per-segment cost of the TCP stack on the memory wire, counted rather than
# timed (see bench/memory-cost.ts): instructions under valgrind's cachegrind (JIT code included)
# and bytes allocated from V8's GC trace, each as the difference of two runs of different sizes.
#
#   bench/cost.sh [tree]          # tree: a checkout of this repository (default: this one)
#   CRR="200 700" BULK="8 40" bench/cost.sh
#
# Slow under valgrind (about a minute per run here); run it on one core, it is not timing-
# sensitive, so other load on the machine does not change its figures (within about 1 %).
set -euo pipefail
tree=$(cd "${1:-$(dirname "$0")/..}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
read -r c1 c2 <<<"${CRR:-100 600}"
read -r b1 b2 <<<"${BULK:-8 40}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The script is copied into the tree measured, so an older tree runs the same workload.
cp "$here/memory-cost.ts" "$tree/bench/.memory-cost-run.ts"
# The compiled code, as users run it (the stack is loaded from it, see COST_DIST); inside the
# tree so that its imports find node_modules and package.json ("type": "module").
dist="$tree/bench/.cost-dist"
trap 'rm -rf "$tmp" "$dist"; rm -f "$tree/bench/.memory-cost-run.ts"' EXIT
cd "$tree"
npx tsc -p tsconfig.build.json --outDir "$dist" >/dev/null
export COST_DIST="$dist"

instr() { # mode size -> instructions of the whole process
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$tmp/cg.%p" \
    node --single-threaded --import tsx bench/.memory-cost-run.ts "$1" "$2" >"$tmp/out" 2>"$tmp/err"
  printf '%s %s\n' "$(grep 'I *refs' "$tmp/err" | tail -1 | sed 's/.*refs: *//; s/,//g')" \
    "$(tail -1 "$tmp/out" | sed 's/.*"segmentsSentByA"://; s/[^0-9].*//')"
}
alloc() { # mode size -> "bytes gcs json" of the measured part
  # V8 prints its trace on stdout, the marks go to stderr: one file keeps their order.
  node --expose-gc --trace-gc-nvp --import tsx bench/.memory-cost-run.ts "$1" "$2" >"$tmp/all" 2>&1
  awk '/MEASURE-START/{on=1; next} /MEASURE-END/{on=0} on && /allocated=/ {
         for (i = 1; i <= NF; i++) if ($i ~ /^allocated=/) { split($i, kv, "="); sum += kv[2]; n++ } }
       END { printf "%d %d", sum, n }' "$tmp/all"
  printf ' %s\n' "$(grep '^{' "$tmp/all" | tail -1)"
}

echo "tree: $tree ($(git -C "$tree" rev-parse --short HEAD))"
read -r i1 _ < <(instr crr "$c1"); read -r i2 _ < <(instr crr "$c2")
echo "crr instructions: $c1 -> $i1, $c2 -> $i2; per connection $(( (i2 - i1) / (c2 - c1) ))"
read -r a1 _ j1 < <(alloc crr "$c1"); read -r a2 g2 j2 < <(alloc crr "$c2")
echo "crr allocated: per connection $(( (a2 - a1) / (c2 - c1) )) bytes ($g2 GCs in the larger run); $j2"
read -r bi1 s1 < <(instr bulk "$b1"); read -r bi2 s2 < <(instr bulk "$b2")
echo "bulk instructions: ${b1} MiB -> $bi1, ${b2} MiB -> $bi2; per MiB $(( (bi2 - bi1) / (b2 - b1) )), per segment A sent $(( (bi2 - bi1) / (s2 - s1) )) ($((s2 - s1)) segments)"
read -r ba1 _ k1 < <(alloc bulk "$b1"); read -r ba2 bg2 k2 < <(alloc bulk "$b2")
echo "bulk allocated: per MiB $(( (ba2 - ba1) / (b2 - b1) )) bytes ($bg2 GCs in the larger run); $k2"
