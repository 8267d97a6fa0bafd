#!/usr/bin/env bash
# bench/idle.sh: memory per idle keep-alive connection, for Squall and its peers.
#
# For each server: start it (pinned like wrk.sh does), warm it up with a few connections, read
# its RSS (VmRSS of the process tree), have idle_client open N connections, make one request on
# each and hold them, read the RSS again, and report (after - before) / N. idle_client then
# makes a second request on every connection, so a server that quietly dropped them is caught
# (the "alive" column) instead of looking cheap.
#
# Environment (all optional):
#   SERVERS  servers to measure, in order   (squall bare hyper actix tornado)
#   N        connections held               (10000)
#   HOLD     seconds the connections idle   (5)
#   SETTLE   seconds between "held" and the RSS reading (1)
#   SQUALL_ARGS, SERVER_CPU, CLIENT_CPU as for wrk.sh
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N=${N:-10000}
HOLD=${HOLD:-5}
SETTLE=${SETTLE:-1}

# Both ends of every connection live on this machine; the client and the server each need N
# descriptors plus slack. Root may raise the hard limit; otherwise take what there is.
want=$((N + 1024))
if ! ulimit -n "$want" 2>/dev/null; then
  ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
  if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want" ]; then
    log "open-file limit is $(ulimit -n), need $want: run as root or lower N"
    exit 1
  fi
fi

build_idle_client
prepare_servers

declare -A BEFORE AFTER PER ALIVE
for name in "${READY[@]}"; do
  port=$(free_port)
  log "== $name on 127.0.0.1:$port"
  if ! start_server "$name" "$port"; then
    ALIVE[$name]="did not start"
    continue
  fi
  pid=$SERVER_PID
  # Warm-up: lazily built state (allocator arenas, caches, the connection table's first growth)
  # should not be charged to the idle connections.
  "${PIN_CLIENT[@]}" "$IDLE_CLIENT" --port "$port" --conns 100 --hold 0 >/dev/null 2>&1 || true
  sleep "$SETTLE"
  BEFORE[$name]=$(rss_kib "$pid")

  cout=$OUT_DIR/idle-$STAMP-$name.txt
  # Bounded: the client has its own deadlines; timeout is the backstop.
  timeout $((HOLD + 300)) "${PIN_CLIENT[@]}" "$IDLE_CLIENT" --port "$port" --conns "$N" \
    --hold "$HOLD" >"$cout" 2>&1 &
  client=$!
  STARTED_PIDS+=("$client")
  held=no
  for _ in $(seq 1200); do
    if grep -q '^held ' "$cout"; then held=yes; break; fi
    kill -0 "$client" 2>/dev/null || break
    sleep 0.1
  done
  if [ "$held" = yes ]; then
    sleep "$SETTLE"
    AFTER[$name]=$(rss_kib "$pid")
    PER[$name]=$(( (${AFTER[$name]} - ${BEFORE[$name]}) * 1024 / N ))
  fi
  wait "$client" 2>/dev/null || true
  ALIVE[$name]=$(awk '/^alive / {print $2}' "$cout")
  if [ "$held" != yes ] || [ -z "${ALIVE[$name]}" ]; then
    ALIVE[$name]="client failed: $(tail -n 1 "$cout")"
  fi
  log "$name: RSS ${BEFORE[$name]} KiB -> ${AFTER[$name]:-?} KiB with $N idle, ${PER[$name]:-?} bytes each, alive ${ALIVE[$name]}"
  stop_server "$pid"
done

report() {
  echo "# Squall vs peers: memory per idle keep-alive connection, $(date '+%Y-%m-%d %H:%M:%S %Z')"
  echo
  echo "- $N connections on 127.0.0.1, one GET /plaintext each, then idle ${HOLD}s; RSS read ${SETTLE}s after the last was held"
  echo "- RSS = VmRSS of the server's process tree; kernel socket memory is not in it"
  echo "- squall at $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')${SQUALL_ARGS:+, args: $SQUALL_ARGS}"
  echo
  echo "| server | RSS before (KiB) | RSS with $N idle (KiB) | bytes per idle connection | alive after ${HOLD}s |"
  echo "|---|---:|---:|---:|---|"
  local name
  for name in "${READY[@]}"; do
    echo "| $name | ${BEFORE[$name]:--} | ${AFTER[$name]:--} | ${PER[$name]:--} | ${ALIVE[$name]:--} |"
  done
}

RESULT=$OUT_DIR/idle-$STAMP.md
report | tee "$RESULT"
log "written to $RESULT"
