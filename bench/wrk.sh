#!/usr/bin/env bash
# bench/wrk.sh: Squall against its peers under wrk. See bench/README.md.
#
# Each server runs alone, pinned to CPU $SERVER_CPU (0); wrk runs pinned to CPU $CLIENT_CPU (1).
# For every scenario: a warm-up run, then a measured run during which the server's CPU time is
# read from /proc/PID/stat, giving requests per server CPU-second next to requests/s and wrk's
# p50/p99 latency. The tables go to stdout and bench/out/results-<date>.md.
#
# Environment (all optional):
#   SERVERS      servers to run, in order           (squall bare hyper actix tornado)
#   SCENARIOS    scenarios to run                    (plaintext pipeline json close)
#   DURATION     seconds per measured run            (10)
#   WARMUP       seconds of warm-up before each run  (2)
#   CONNS        wrk connections                     (50)
#   DEPTH        requests per pipelined write        (16)
#   SQUALL_ARGS  extra arguments for Squall's bench  (none), e.g. "--processes 1"
#   TORNADO_ARGS extra arguments for the Tornado peer (none)
# The gzip scenario (not in the default list) wants both servers compressing:
#   SQUALL_ARGS=--gzip TORNADO_ARGS=--gzip SERVERS="squall tornado" SCENARIOS=gzip bash bench/wrk.sh
# The fortunes scenario (not in the default list; squall and tornado serve it): TechEmpower's
# Fortunes page, thirteen rows sorted and HTML-escaped by each server's template engine:
#   SERVERS="squall tornado" SCENARIOS=fortunes bash bench/wrk.sh
# The HTTPS scenarios (not in the default list; squall, squall-raw and hyper serve them, with a
# certificate made by openssl): https (keep-alive), handshake (a new TLS connection per
# request, a full handshake each: the servers run without session resumption) and resume
# (the same with resumption on: wrk resumes its session on every reconnection):
#   SERVERS="squall hyper" SCENARIOS="https handshake resume" bash bench/wrk.sh
#   SERVER_CPU / CLIENT_CPU                          (0 / 1)
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SCENARIOS=${SCENARIOS:-plaintext pipeline json close}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-50}
DEPTH=${DEPTH:-16}

declare -A TITLE=(
  [plaintext]="plaintext"
  [pipeline]="plaintext, ${DEPTH}-deep pipelining"
  [json]="json"
  [close]="plaintext, new connection per request"
  [gzip]="16 KiB text, gzip"
  [fortunes]="fortunes (template)"
  [https]="plaintext over TLS"
  [handshake]="full TLS handshake per request"
  [resume]="resumed TLS handshake per request"
)

if ! command -v wrk >/dev/null; then
  log "installing wrk"
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y wrk >/dev/null; }
fi
ulimit -n 65536 2>/dev/null || true

prepare_servers

declare -A RPS RPC CPU SCORE CCORE P50 P99 ERR CHECK
for name in "${READY[@]}"; do
 # One server process for the plain scenarios, another serving HTTPS for the TLS ones, a
 # third serving HTTPS without session resumption for the full handshakes.
 for mode in plain tls tls-full; do
  scs=()
  for sc in $SCENARIOS; do [ "$(scenario_tls "$sc")" = "$mode" ] && scs+=("$sc"); done
  [ "${#scs[@]}" -eq 0 ] && continue
  port=$(free_port)
  log "== $name on 127.0.0.1:$port ($mode)"
  if ! start_server "$name" "$port" "$mode"; then
    for sc in "${scs[@]}"; do ERR[$name:$sc]="did not start"; done
    continue
  fi
  pid=$SERVER_PID
  if [ "$mode" = plain ]; then
    CHECK[$name]=$(check_responses "$port")
    [ "${CHECK[$name]}" = ok ] || log "$name: response check: ${CHECK[$name]}"
  fi
  for sc in "${scs[@]}"; do
    if ! scenario_args "$sc" >/dev/null; then
      log "unknown scenario $sc"
      continue
    fi
    raw=$OUT_DIR/wrk-$STAMP-$name-$sc.txt
    run_wrk "$WARMUP" "$raw.warmup" "$port" "$sc" || true
    read -r sb0 st0 < <(core_jiffies "$SERVER_CPU")
    read -r cb0 ct0 < <(core_jiffies "$CLIENT_CPU")
    t0=$(cpu_ticks "$pid")
    w0=$(date +%s.%N)
    if ! run_wrk "$DURATION" "$raw" "$port" "$sc"; then
      log "$name/$sc: wrk failed; see $raw"
    fi
    w1=$(date +%s.%N)
    t1=$(cpu_ticks "$pid")
    read -r sb1 st1 < <(core_jiffies "$SERVER_CPU")
    read -r cb1 ct1 < <(core_jiffies "$CLIENT_CPU")
    SCORE[$name:$sc]=$(( st1 > st0 ? 100 * (sb1 - sb0) / (st1 - st0) : 0 ))
    CCORE[$name:$sc]=$(( ct1 > ct0 ? 100 * (cb1 - cb0) / (ct1 - ct0) : 0 ))
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name died during $sc; see $OUT_DIR/server-$name.log"
      ERR[$name:$sc]="server died"
      break
    fi
    reqs=$(awk '/ requests in / {print $1; exit}' "$raw")
    RPS[$name:$sc]=$(awk '/^Requests\/sec:/ {printf "%.0f", $2; exit}' "$raw")
    P50[$name:$sc]=$(to_ms "$(awk '$1 == "50%" {print $2; exit}' "$raw")")
    P99[$name:$sc]=$(to_ms "$(awk '$1 == "99%" {print $2; exit}' "$raw")")
    ERR[$name:$sc]=$(awk '
      /Socket errors:/ { gsub(/,/, ""); s += $4 + $6 + $8 + $10 }
      /Non-2xx or 3xx responses:/ { s += $NF }
      END { print s + 0 }' "$raw")
    RPC[$name:$sc]=$(awk -v r="${reqs:-0}" -v t=$((t1 - t0)) -v hz="$CLK_TCK" \
      'BEGIN { if (t > 0) printf "%.0f", r / (t / hz); else print "-" }')
    CPU[$name:$sc]=$(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v w0="$w0" -v w1="$w1" \
      'BEGIN { printf "%.0f", 100 * (t / hz) / (w1 - w0) }')
    log "$name/$sc: ${RPS[$name:$sc]:-?} req/s, ${RPC[$name:$sc]} req/CPU-s, server CPU ${CPU[$name:$sc]}% (core $SERVER_CPU busy ${SCORE[$name:$sc]}%, core $CLIENT_CPU busy ${CCORE[$name:$sc]}%), p50 ${P50[$name:$sc]} ms, p99 ${P99[$name:$sc]} ms, errors ${ERR[$name:$sc]}"
  done
  stop_server "$pid"
 done
done

# ---- report ----------------------------------------------------------------------------------

# ratio NAME SCENARIO BASE: NAME's requests per CPU-second as a percentage of BASE's.
ratio() {
  local a=${RPC[$1:$2]:-} b=${RPC[$3:$2]:-}
  if [[ $a =~ ^[0-9]+$ && $b =~ ^[0-9]+$ && $b -gt 0 ]]; then
    awk -v a="$a" -v b="$b" 'BEGIN { printf "%.0f%%", 100 * a / b }'
  else
    echo "-"
  fi
}

# table TITLE CELL-FUNCTION: one row per server, one column per scenario.
table() {
  local title=$1 cell=$2 name sc line
  echo
  echo "### $title"
  echo
  line="| server |"
  for sc in $SCENARIOS; do line+=" ${TITLE[$sc]:-$sc} |"; done
  echo "$line"
  line="|---|"
  for sc in $SCENARIOS; do line+="---:|"; done
  echo "$line"
  for name in "${READY[@]}"; do
    line="| $name |"
    for sc in $SCENARIOS; do line+=" $($cell "$name" "$sc") |"; done
    echo "$line"
  done
}

cell_rpc() { echo "${RPC[$1:$2]:--}"; }
cell_vs_bare() { ratio "$1" "$2" bare; }
cell_vs_hyper() { ratio "$1" "$2" hyper; }
cell_vs_squall() { ratio "$1" "$2" squall; }
cell_rps() { echo "${RPS[$1:$2]:--}"; }
cell_lat() {
  # wrk 4's percentiles are wrong under pipelining: it records one sample per batch and its
  # coordinated-omission correction then fills the histogram with an interval computed from
  # per-request counts (p90/p99 come out as 0). Show nothing rather than a wrong number.
  if [ "$2" = pipeline ]; then echo "n/a"; else echo "${P50[$1:$2]:--} / ${P99[$1:$2]:--}"; fi
}
cell_cpu() { echo "${CPU[$1:$2]:--}% / ${SCORE[$1:$2]:--}% / ${CCORE[$1:$2]:--}%"; }
cell_err() { echo "${ERR[$1:$2]:--}"; }

report() {
  echo "# Squall vs peers: wrk, $(date '+%Y-%m-%d %H:%M:%S %Z')"
  echo
  echo "- machine: $(nproc) CPUs ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), $(uname -sr)"
  echo "- server pinned to CPU $SERVER_CPU, wrk (1 thread, $CONNS connections) pinned to CPU $CLIENT_CPU, loopback"
  echo "- ${DURATION}s measured after ${WARMUP}s warm-up per scenario; pipelining depth $DEPTH"
  echo "- squall at $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')${SQUALL_ARGS:+, args: $SQUALL_ARGS}; $(wrk --version 2>&1 | head -n1 | awk '{print $1, $2}')"
  echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every figure)"
  local name
  for name in "${READY[@]}"; do
    [ "${CHECK[$name]:-}" = ok ] || echo "- response check for $name: ${CHECK[$name]:-not run}"
  done
  table "Requests per server CPU-second (the figure that separates servers)" cell_rpc
  table "Per CPU-second, relative to the bare responder" cell_vs_bare
  table "Per CPU-second, relative to hyper" cell_vs_hyper
  if [[ " ${READY[*]} " == *" squall "* ]]; then
    table "Per CPU-second, relative to squall (§7: Tornado at most 5%)" cell_vs_squall
  fi
  table "Requests per second (wall clock; mostly bounded by wrk on a 2-core machine)" cell_rps
  table "Latency p50 / p99, ms (wrk --latency)" cell_lat
  table "CPU during the run: server process / core $SERVER_CPU busy / core $CLIENT_CPU busy (100% = one core)" cell_cpu
  echo
  echo "Core $CLIENT_CPU near 100% means wrk set the pace; core $SERVER_CPU busy well above the server's own"
  echo "share means other processes ran on the server's core during the run."

  table "Errors (socket errors + non-2xx responses)" cell_err
  echo
  echo "Raw wrk output: bench/out/wrk-$STAMP-*.txt"
}

RESULT=$OUT_DIR/results-$STAMP.md
report | tee "$RESULT"
log "written to $RESULT"
