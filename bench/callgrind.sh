#!/usr/bin/env bash
# bench/callgrind.sh: user-space instructions per request (Ir/req) of the bench server under a
# fixed wrk load, counted by valgrind's callgrind. Unlike timings, the count is repeatable on a
# busy machine, so it is how a change to the request path is judged before it is kept.
#
# usage: bash bench/callgrind.sh [app|raw|gzip] [pipeline|keepalive|close] [PATH]
#   defaults: app pipeline /plaintext; close: a new connection per request
#   TLS=1: over HTTPS (an ECDSA P-256 certificate made by openssl in bench/out); with close,
#   the count is per request on a new TLS connection, resumed (wrk resumes its session on
#   every reconnection); TLS=full: the same with the server's session resumption off
#   (--no-resumption), so a full handshake each
#   gzip: the Application with compress_response on (--gzip), requests sent with
#   Accept-Encoding: gzip (/gzip is 16 KiB of text; /plaintext measures a response too small
#   to compress)
# Everything the server runs is counted, start-up included (a few hundred thousand instructions,
# under 1 Ir/req at the request counts reached), and divided by the requests wrk saw answered.
# Prints "MODE SCENARIO PATH: N requests, IR Ir, IR/N Ir/req" (PATH as an https URL with TLS=1).
# SYSCALLS=1 also counts the server's system calls (callgrind --collect-systime) and prints
# syscalls per request: the kernel's share, which instruction counts do not see.
# Everything listens on 127.0.0.1 and stops by itself (wrk runs are bounded in time).
set -euo pipefail
MODE=${1:-app}
SCENARIO=${2:-pipeline}
URLPATH=${3:-/plaintext}
DURATION=${DURATION:-5}
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=$BENCH_DIR/out
mkdir -p "$OUT"
for tool in valgrind callgrind_control wrk; do
  command -v "$tool" >/dev/null || { echo "callgrind.sh needs $tool (apt-get install valgrind wrk)" >&2; exit 2; }
done
(cd "$ROOT" && cargo build --release --example bench >/dev/null 2>&1) || {
  echo "callgrind.sh: cargo build --release --example bench failed" >&2; exit 2; }
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ARGS=(--port "$PORT")
[ "$MODE" = raw ] && ARGS+=(--raw)
[ "$MODE" = gzip ] && ARGS+=(--gzip)
SCHEME=http
if [ "${TLS:-0}" != 0 ]; then
  CERT=$OUT/tls-cert.pem KEY=$OUT/tls-key.pem
  if [ ! -s "$CERT" ] || [ ! -s "$KEY" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
      -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
      -keyout "$KEY" -out "$CERT" >/dev/null 2>&1
  fi
  ARGS+=(--cert "$CERT" --key "$KEY")
  [ "$TLS" = full ] && ARGS+=(--no-resumption)
  SCHEME=https
fi
FILE=$OUT/callgrind.$MODE.$SCENARIO.$$
SYSOPT=(); [ "${SYSCALLS:-0}" = 1 ] && SYSOPT=(--collect-systime=nsec)
valgrind --tool=callgrind "${SYSOPT[@]}" --callgrind-out-file="$FILE" \
  "$TARGET/release/examples/bench" "${ARGS[@]}" >"$OUT/callgrind-server.log" 2>&1 &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true; wait $PID 2>/dev/null || true' EXIT
for _ in $(seq 200); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done
WRK=(wrk -t1 -c"${CONNS:-50}" "$SCHEME://127.0.0.1:$PORT$URLPATH")
[ "$SCENARIO" = close ] && WRK+=(-H 'Connection: close')
[ "$MODE" = gzip ] && WRK+=(-H 'Accept-Encoding: gzip')
[ "$SCENARIO" = pipeline ] && WRK+=(-s "$BENCH_DIR/pipeline.lua")
N=$("${WRK[@]}" -d"${DURATION}s" | awk '/requests in/ {print $1}')
kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; trap - EXIT
IR=$(awk '/^(summary|totals):/ {print $2; exit}' "$FILE")
SHOWN=$URLPATH; [ "$SCHEME" = https ] && SHOWN="https $URLPATH"
echo "$MODE $SCENARIO $SHOWN: $N requests, $IR Ir, $((IR / N)) Ir/req"
if [ "${SYSCALLS:-0}" = 1 ]; then
  SC=$(awk '/^(summary|totals):/ {print $3; exit}' "$FILE")
  echo "  $SC syscalls, $(awk -v s="$SC" -v n="$N" 'BEGIN {printf "%.3f", s / n}') syscalls/req"
fi
rm -f "$FILE"*
