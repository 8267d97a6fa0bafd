#!/usr/bin/env bash
# bench/ws.sh: WebSocket echo, Squall against its peers: messages per server CPU-second, and
# memory per idle WebSocket connection. See bench/README.md ("WebSocket").
#
# Each server runs alone, pinned to CPU $SERVER_CPU (0); the load generator (ws_load, Squall's
# own client on one loop) runs pinned to CPU $CLIENT_CPU (1). For every scenario: a warm-up,
# then a measured run during which the server's CPU time is read from /proc/PID/stat, giving
# messages per server CPU-second next to messages per second. Then memory: the server's RSS
# before and after ws_load holds $IDLE connections, divided by $IDLE.
#
# Scenarios: text32 (32-byte text), binary16k (16 KiB binary), and their compressed forms
# text32z / binary16kz (permessage-deflate; only servers that offer it: squall, tornado).
#
# Environment (all optional):
#   SERVERS    servers, in order            (squall tungstenite fastwebsockets tornado)
#   SCENARIOS  scenarios                    (text32 binary16k text32z binary16kz)
#   DURATION   seconds per measured run     (10)
#   WARMUP     seconds of warm-up           (2)
#   CONNS      connections                  (50)
#   IDLE       idle connections held        (2000; 0 skips the memory run)
#   SERVER_CPU / CLIENT_CPU                 (0 / 1)
set -euo pipefail

# Before lib.sh, whose own default (the HTTP servers) would otherwise win.
SERVERS=${SERVERS:-squall tungstenite fastwebsockets tornado}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SCENARIOS=${SCENARIOS:-text32 binary16k text32z binary16kz}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-50}
IDLE=${IDLE:-2000}

ulimit -n $((IDLE + 4096)) 2>/dev/null || ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true

scenario_flags() {
  case $1 in
    text32) echo "--size 32" ;;
    binary16k) echo "--size 16384 --binary" ;;
    text32z) echo "--size 32 --compress" ;;
    binary16kz) echo "--size 16384 --binary --compress" ;;
    *) return 1 ;;
  esac
}

compresses() { [ "$1" = squall ] || [ "$1" = tornado ]; }

log "building ws_load and the peers"
cargo build --release --manifest-path "$PEERS_DIR/Cargo.toml" -p ws_load \
  >"$OUT_DIR/build-ws_load.log" 2>&1 || { log "ws_load failed to build; see $OUT_DIR/build-ws_load.log"; exit 1; }
LOAD=$PEERS_TARGET/release/ws_load
READY=()
for name in $SERVERS; do
  blog=$OUT_DIR/build-ws-$name.log
  case $name in
    squall)
      (cd "$ROOT" && cargo build --release --example bench) >"$blog" 2>&1 && READY+=(squall) \
        || log "SKIP squall: build failed; see $blog" ;;
    tungstenite | fastwebsockets)
      cargo build --release --manifest-path "$PEERS_DIR/Cargo.toml" -p "${name}_peer" >"$blog" 2>&1 \
        && READY+=("$name") || log "SKIP $name: build failed; see $blog" ;;
    tornado)
      ensure_tornado >"$blog" 2>&1 && READY+=(tornado) || log "SKIP tornado: no venv; see $blog" ;;
    *) log "SKIP $name: unknown" ;;
  esac
done
[ "${#READY[@]}" -gt 0 ] || { log "no server built"; exit 1; }

# start_ws NAME PORT [compress]: starts the server pinned; waits until an echo works.
start_ws() {
  local name=$1 port=$2 compress=${3:-} slog=$OUT_DIR/server-ws-$1.log i
  case $name in
    squall) "${PIN_SERVER[@]}" "$SQUALL_TARGET/release/examples/bench" --port "$port" >"$slog" 2>&1 & ;;
    tornado)
      # shellcheck disable=SC2086
      "${PIN_SERVER[@]}" "$VENV/bin/python" "$PEERS_DIR/tornado_ws_peer.py" --port "$port" $compress \
        >"$slog" 2>&1 & ;;
    *) "${PIN_SERVER[@]}" "$PEERS_TARGET/release/${name}_peer" --port "$port" >"$slog" 2>&1 & ;;
  esac
  SERVER_PID=$!
  STARTED_PIDS+=("$SERVER_PID")
  for i in $(seq 100); do
    kill -0 "$SERVER_PID" 2>/dev/null || { log "$name exited at start; see $slog"; return 1; }
    if "$LOAD" --port "$port" --path /ws --check >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  log "$name did not echo within 10 s"
  stop_server "$SERVER_PID"
  return 1
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

declare -A MPS MPC CPU ERR MEM ALIVE
for name in "${READY[@]}"; do
  for sc in $SCENARIOS; do
    flags=$(scenario_flags "$sc") || { log "unknown scenario $sc"; continue; }
    case $sc in *z) compresses "$name" || { ERR[$name:$sc]="no deflate"; continue; } ;; esac
    port=$(free_port)
    extra=""
    case $sc in *z) extra=--compress ;; esac
    start_ws "$name" "$port" "$extra" || { ERR[$name:$sc]="did not start"; continue; }
    pid=$SERVER_PID
    # shellcheck disable=SC2086
    "${PIN_CLIENT[@]}" "$LOAD" --port "$port" --path /ws --conns "$CONNS" --duration "$WARMUP" $flags >/dev/null 2>&1 || true
    t0=$(cpu_ticks "$pid")
    # shellcheck disable=SC2086
    out=$(timeout $((DURATION + 60)) "${PIN_CLIENT[@]}" "$LOAD" --port "$port" --path /ws \
      --conns "$CONNS" --duration "$DURATION" $flags 2>&1) || true
    t1=$(cpu_ticks "$pid")
    stop_server "$pid"
    read -r _ msgs _ secs <<<"$(grep '^messages' <<<"$out" || echo "messages 0 seconds 1")"
    cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" 'BEGIN {printf "%.3f", (b - a) / hz}')
    MPS[$name:$sc]=$(awk -v m="$msgs" -v s="$secs" 'BEGIN {printf "%d", m / s}')
    MPC[$name:$sc]=$(awk -v m="$msgs" -v c="$cpu" 'BEGIN {if (c > 0) printf "%d", m / c; else print "-"}')
    CPU[$name:$sc]=$cpu
    log "$name $sc: ${MPS[$name:$sc]} msg/s, ${MPC[$name:$sc]} msg per server CPU-s ($out)"
  done
  if [ "$IDLE" -gt 0 ]; then
    port=$(free_port)
    start_ws "$name" "$port" || { MEM[$name]="did not start"; continue; }
    pid=$SERVER_PID
    "${PIN_CLIENT[@]}" "$LOAD" --port "$port" --path /ws --idle 50 --hold 0 >/dev/null 2>&1 || true
    sleep 1
    before=$(rss_kib "$pid")
    fifo=$OUT_DIR/ws-idle-$name.txt
    timeout 300 "${PIN_CLIENT[@]}" "$LOAD" --port "$port" --path /ws --idle "$IDLE" --hold 5 >"$fifo" 2>&1 &
    client=$!
    STARTED_PIDS+=("$client")
    for _ in $(seq 1200); do grep -q '^held' "$fifo" 2>/dev/null && break; sleep 0.1; done
    sleep 1
    after=$(rss_kib "$pid")
    wait "$client" 2>/dev/null || true
    MEM[$name]=$(awk -v a="$after" -v b="$before" -v n="$IDLE" 'BEGIN {printf "%d", (a - b) * 1024 / n}')
    ALIVE[$name]=$(awk '/^alive/ {print $2}' "$fifo")
    stop_server "$pid"
    log "$name: ${MEM[$name]} B per idle WebSocket (alive ${ALIVE[$name]:-?}/$IDLE)"
  fi
done

res=$OUT_DIR/ws-results-$STAMP.md
{
  echo "WebSocket echo, $CONNS connections, ${DURATION}s per run, $(date -u +%F), $(git -C "$ROOT" rev-parse --short HEAD)"
  echo
  printf '| server |'; for sc in $SCENARIOS; do printf ' %s msg/CPU-s (msg/s) |' "$sc"; done; echo ' idle B/conn |'
  printf '|---|'; for sc in $SCENARIOS; do printf -- '---:|'; done; printf -- '---:|\n'
  for name in "${READY[@]}"; do
    printf '| %s |' "$name"
    for sc in $SCENARIOS; do
      if [ -n "${ERR[$name:$sc]:-}" ]; then printf ' %s |' "${ERR[$name:$sc]}"; else printf ' %s (%s) |' "${MPC[$name:$sc]:-?}" "${MPS[$name:$sc]:-?}"; fi
    done
    printf ' %s |\n' "${MEM[$name]:--}"
  done
} | tee "$res"
log "results in $res"
