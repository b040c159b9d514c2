#!/usr/bin/env bash
# Bulk to the stack over TAP, counted rather than timed: a kernel client in the namespace sends
# a fixed number of bytes to the stack's discard:9, and the serving process's counts per GiB are
# printed: frames the stack wrote (its ACKs) and frames it read (the kernel's GSO packets), write
# and read system calls (/proc/PID/io), garbage collections by kind and reason (--trace-gc),
# user+sys CPU seconds. These do not depend on the load of the machine the way rates do.
#
#   bench/kernel/bulk-cost.sh TREE [MIB] [RUNS]   # TREE: a built checkout (dist/, build/Release)
#   OFFLOAD=0 bench/kernel/bulk-cost.sh TREE      # without the TAP offloads
#   NODE_FLAGS=--trace-incremental-marking KEEP=out bench/kernel/bulk-cost.sh TREE
#                                                 # more V8 flags; KEEP: the process's output
#   STRACE=file / PERF=file                       # strace -c -f / perf record of the measured runs
#   SIGNAL_BEFORE=USR1 SIGNAL_AFTER=USR2          # signals around the measured runs (for a
#                                                 # profiler preloaded with NODE_FLAGS=--import)
#
# Write system calls from /proc/PID/io include the event-loop wake-ups that V8's helper threads
# post (an eventfd write each), which follow the garbage collector's work: frames written is
# the count of ACKs. The first run after the warm-up is often dearer (the JIT): use 3 or more.
#
# Root only. One namespace of its own (rxbc-<pid>), 198.18.0.0/24 inside it only, deleted on exit.
set -euo pipefail
tree=$(cd "$1" && pwd)
mib=${2:-1024}
runs=${3:-3}
here=$(cd "$(dirname "$0")" && pwd)
ns="rxbc-$$"
serve_pid=
cleanup() {
  if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
  ip netns del "$ns" 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then cp "$tmp/serve.out" "$KEEP"; cp "$tmp/serve.err" "$KEEP.err"; fi
  rm -rf "$tmp"
}
tmp=$(mktemp -d)
trap cleanup EXIT
ip netns add "$ns"
x() { ip netns exec "$ns" "$@"; }
x ip link set lo up
x sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
x ip tuntap add dev rxb0 mode tap
x ip addr add 198.18.0.1/24 dev rxb0
x ip link set rxb0 up

ip netns exec "$ns" env RX_NETSTACK_TAP_OFFLOAD="${OFFLOAD:-1}" node --trace-gc ${NODE_FLAGS:-} "$tree/dist/bin/rx-netstack.js" \
  serve --tap rxb0 --ip 198.18.0.2/24 --services discard:9 >"$tmp/serve.out" 2>"$tmp/serve.err" &
serve_pid=$!
for _ in $(seq 150); do grep -q '^ready' "$tmp/serve.out" && break; sleep 0.1; done
grep -q '^ready' "$tmp/serve.out" || { echo "serve did not start: $(cat "$tmp/serve.err")" >&2; exit 1; }
# The node process itself (ip netns exec and env exec it: same PID).
pid=$serve_pid
grep -q node "/proc/$pid/comm" || { echo "PID $pid is not node" >&2; exit 1; }

snap() { # -> "tx_frames rx_frames syscw syscr cpu_ticks gcs mark_compacts external_pressure scavenges"
  local link; link=$(x ip -s -j link show rxb0)
  # Kernel's view of the TAP: its RX is what the stack wrote, its TX what the stack read.
  local stack_tx stack_rx
  stack_tx=$(python3 -c 'import json,sys; d=json.load(sys.stdin)[0]["stats64"]; print(d["rx"]["packets"], d["tx"]["packets"])' <<<"$link")
  local io; io=$(awk '/^syscw/{w=$2} /^syscr/{r=$2} END{print w, r}' "/proc/$pid/io")
  local cpu; cpu=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  local gc mc ext sc
  mc=$(grep -c 'ms: Mark-Compact' "$tmp/serve.out" || true)
  ext=$(grep 'ms: \(Mark-Compact\|Scavenge\)' "$tmp/serve.out" | grep -c 'external memory pressure' || true)
  sc=$(grep -c 'ms: Scavenge' "$tmp/serve.out" || true)
  gc=$((mc + sc))
  echo "$stack_tx $io $cpu $gc $mc $ext $sc"
}
# Warm-up: ARP, the JIT.
x python3 "$here/bulk-sender.py" 198.18.0.2 9 128 >/dev/null
hz=$(getconf CLK_TCK)
echo "tree $tree ($(git -C "$tree" rev-parse --short HEAD 2>/dev/null || echo '?')), offload ${OFFLOAD:-1}, $mib MiB x $runs"
strace_pid=
if [ -n "${STRACE:-}" ]; then # syscall counts of the measured runs (slows the stack: counts only)
  strace -c -f -p "$pid" -o "$STRACE" & strace_pid=$!
  sleep 1
fi
perf_pid=
if [ -n "${PERF:-}" ]; then # a CPU profile of the measured runs (NODE_FLAGS=--perf-basic-prof names JS)
  perf record -q -F 2000 -p "$pid" -o "$PERF" 2>/dev/null & perf_pid=$!
  sleep 1
fi
[ -n "${SIGNAL_BEFORE:-}" ] && kill -"$SIGNAL_BEFORE" "$pid" && sleep 0.3
for r in $(seq "$runs"); do
  read -r a_tx a_rx a_w a_r a_cpu a_gc a_mc a_ext a_sc < <(snap)
  x python3 "$here/bulk-sender.py" 198.18.0.2 9 "$mib" >/dev/null
  sleep 0.2 # the last ACKs and the GC trace lines of the run
  read -r b_tx b_rx b_w b_r b_cpu b_gc b_mc b_ext b_sc < <(snap)
  awk -v m="$mib" -v hz="$hz" -v tx=$((b_tx - a_tx)) -v rx=$((b_rx - a_rx)) -v w=$((b_w - a_w)) -v rd=$((b_r - a_r)) \
    -v cpu=$((b_cpu - a_cpu)) -v gc=$((b_gc - a_gc)) -v mc=$((b_mc - a_mc)) -v ext=$((b_ext - a_ext)) -v sc=$((b_sc - a_sc)) \
    'BEGIN { g = m / 1024; printf "per GiB: frames written %d, frames read %d (%.2f written per read), write syscalls %d, read syscalls %d, CPU %.2f s, GCs %d (mark-compact %d, scavenge %d, of them for external memory pressure %d)\n",
      tx / g, rx / g, tx / rx, w / g, rd / g, cpu / hz / g, gc / g, mc / g, sc / g, ext / g }'
done
echo "peak RSS of the serving process: $(awk '/VmHWM/ {print $2, $3}' "/proc/$pid/status")"
[ -n "${SIGNAL_AFTER:-}" ] && kill -"$SIGNAL_AFTER" "$pid" && sleep 1
if [ -n "$strace_pid" ]; then kill -INT "$strace_pid"; wait "$strace_pid" || true; fi
if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
