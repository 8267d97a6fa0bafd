#!/usr/bin/env bash
# bench/ws_callgrind.sh: user-space instructions per echoed WebSocket message (Ir/msg) of the
# bench server's /ws under a fixed ws_load run, counted by valgrind's callgrind (repeatable on
# a busy machine, unlike timings).
#
# usage: bash bench/ws_callgrind.sh [text32|binary16k|text32z|binary16kz]   (default text32)
# Everything the server runs is counted (start-up and the 50 handshakes included) and divided
# by the echoes ws_load received. Prints "SCENARIO: N messages, IR Ir, IR/N Ir/msg".
# Everything listens on 127.0.0.1 and stops by itself (ws_load runs are bounded in time).
set -euo pipefail
SCENARIO=${1:-text32}
DURATION=${DURATION:-5}
CONNS=${CONNS:-50}
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PEERS_TARGET=${CARGO_TARGET_DIR:-$BENCH_DIR/peers/target}
OUT=$BENCH_DIR/out
mkdir -p "$OUT"
case $SCENARIO in
  text32) FLAGS=(--size 32) ;;
  binary16k) FLAGS=(--size 16384 --binary) ;;
  text32z) FLAGS=(--size 32 --compress) ;;
  binary16kz) FLAGS=(--size 16384 --binary --compress) ;;
  *) echo "unknown scenario $SCENARIO" >&2; exit 2 ;;
esac
command -v valgrind >/dev/null || { echo "ws_callgrind.sh needs valgrind" >&2; exit 2; }
(cd "$ROOT" && cargo build --release --example bench >/dev/null 2>&1) || {
  echo "ws_callgrind.sh: cargo build --release --example bench failed" >&2; exit 2; }
cargo build --release --manifest-path "$BENCH_DIR/peers/Cargo.toml" -p ws_load >/dev/null 2>&1 || {
  echo "ws_callgrind.sh: building ws_load failed" >&2; exit 2; }
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
FILE=$OUT/callgrind.ws.$SCENARIO.$$
valgrind --tool=callgrind --callgrind-out-file="$FILE" \
  "$TARGET/release/examples/bench" --port "$PORT" >"$OUT/ws-callgrind-server.log" 2>&1 &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true; wait $PID 2>/dev/null || true' EXIT
for _ in $(seq 300); do
  "$PEERS_TARGET/release/ws_load" --port "$PORT" --path /ws --check >/dev/null 2>&1 && break
  sleep 0.1
done
N=$("$PEERS_TARGET/release/ws_load" --port "$PORT" --path /ws --conns "$CONNS" \
  --duration "$DURATION" "${FLAGS[@]}" | awk '/^messages/ {print $2}')
kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; trap - EXIT
IR=$(awk '/^(summary|totals):/ {print $2; exit}' "$FILE")
echo "$SCENARIO: $N messages, $IR Ir, $((IR / N)) Ir/msg"
[ -n "${KEEP:-}" ] || rm -f "$FILE"*
