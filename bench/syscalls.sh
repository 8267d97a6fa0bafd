#!/usr/bin/env bash
# bench/syscalls.sh: the bench server's system calls per request and per loop turn under a
# fixed wrk load, counted by `perf stat` tracepoints at full speed (under valgrind the server
# runs ~50 times slower, its turns batch far more requests, and per-turn costs look smaller
# than they are). Counts, not timings: what one loop turn costs the kernel is judged by them.
#
# usage: bash bench/syscalls.sh [app|raw] [pipeline|keepalive]
#   defaults: app keepalive; DURATION (5 s), CONNS (50)
# Prints the requests wrk saw answered, then per request: all syscalls, epoll_wait (= loop
# turns), epoll_ctl, timerfd_settime, read, sendto/write; and syscalls per turn.
# Needs perf with tracepoint access (root) and wrk; everything listens on 127.0.0.1.
set -euo pipefail
MODE=${1:-app}
SCENARIO=${2:-keepalive}
DURATION=${DURATION:-5}
CONNS=${CONNS:-50}
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=$BENCH_DIR/out
mkdir -p "$OUT"
for tool in perf wrk; do
  command -v "$tool" >/dev/null || { echo "syscalls.sh needs $tool" >&2; exit 2; }
done
(cd "$ROOT" && cargo build --release --example bench >/dev/null 2>&1) || {
  echo "syscalls.sh: cargo build --release --example bench failed" >&2; exit 2; }
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ARGS=(--port "$PORT")
[ "$MODE" = raw ] && ARGS+=(--raw)
"$TARGET/release/examples/bench" "${ARGS[@]}" >"$OUT/syscalls-server.log" 2>&1 &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true; wait $PID 2>/dev/null || true' EXIT
for _ in $(seq 200); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done
WRK=(wrk -t1 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:$PORT/plaintext")
[ "$SCENARIO" = pipeline ] && WRK+=(-s "$BENCH_DIR/pipeline.lua")
STAT=$OUT/syscalls.$$.perf
EVENTS=raw_syscalls:sys_enter,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait
EVENTS+=,syscalls:sys_enter_epoll_ctl,syscalls:sys_enter_timerfd_settime,syscalls:sys_enter_read
EVENTS+=,syscalls:sys_enter_sendto,syscalls:sys_enter_write,syscalls:sys_enter_writev
perf stat -x, -e "$EVENTS" -p "$PID" -o "$STAT" &
PERF=$!
sleep 0.2
N=$("${WRK[@]}" | awk '/requests in/ {print $1}')
kill -INT "$PERF"; wait "$PERF" 2>/dev/null || true
awk -F, -v n="$N" -v mode="$MODE" -v sc="$SCENARIO" '
  $3 ~ /sys_enter/ { split($3, a, ":"); c[a[2]] = $1 }
  END {
    turns = c["sys_enter_epoll_wait"] + c["sys_enter_epoll_pwait"]
    printf "%s %s: %d requests\n", mode, sc, n
    printf "  per request: %.3f syscalls, %.3f epoll_wait, %.3f epoll_ctl, %.3f timerfd_settime, %.3f read, %.3f send/write\n",
      c["sys_enter"] / n, turns / n, c["sys_enter_epoll_ctl"] / n, c["sys_enter_timerfd_settime"] / n,
      c["sys_enter_read"] / n, (c["sys_enter_sendto"] + c["sys_enter_write"] + c["sys_enter_writev"]) / n
    if (turns > 0) printf "  per turn: %.2f syscalls, %.2f requests\n", c["sys_enter"] / turns, n / turns
  }' "$STAT"
rm -f "$STAT"
