#!/usr/bin/env bash
# bench/pairs.sh: the ratio of two servers' requests per server CPU-second in one scenario,
# from alternating runs (A B A B ...). See bench/README.md.
#
#   bash bench/pairs.sh A B SCENARIO      e.g.  bash bench/pairs.sh squall squall-raw pipeline
#
# A full bench/wrk.sh run measures each server once, minutes apart: on a machine whose speed
# drifts by a few per cent, a ratio near a target can land on either side of it. Here A and B
# run in turn, each freshly started, pinned as in wrk.sh (server on $SERVER_CPU, wrk on
# $CLIENT_CPU), with a warm-up before each measured run; every pair gives one ratio A/B, and
# the median of the pairs is the figure to quote (with the range, which shows the noise).
#
# Environment (all optional): PAIRS (12), DURATION seconds per measured run (5), WARMUP (2),
# CONNS (50), DEPTH (16), SERVER_CPU / CLIENT_CPU (0 / 1). Servers and scenarios are wrk.sh's.
set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: bash bench/pairs.sh A B SCENARIO   (servers: squall squall-raw bare hyper actix tornado;" >&2
  echo "       scenarios: plaintext pipeline json close gzip https handshake resume)" >&2
  exit 2
fi
A=$1 B=$2 SC=$3
SERVERS="$A $B"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PAIRS=${PAIRS:-12}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-50}
DEPTH=${DEPTH:-16}

if ! scenario_args "$SC" >/dev/null; then
  echo "unknown scenario $SC" >&2
  exit 2
fi

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || true
prepare_servers
if [ "${#READY[@]}" -ne 2 ]; then
  echo "both servers must build" >&2
  exit 1
fi

# measure NAME: one fresh server, a warm-up, one measured run; prints requests per CPU-second
# and wrk's p99 latency in ms ("-" under pipelining, where wrk's percentiles are wrong).
measure() {
  local name=$1 port out t0 t1 reqs p99
  port=$(free_port)
  start_server "$name" "$port" "$(scenario_tls "$SC")" || return 1
  out=$OUT_DIR/pairs-$STAMP-$name.txt
  run_wrk "$WARMUP" "$out.warmup" "$port" "$SC" || true
  t0=$(cpu_ticks "$SERVER_PID")
  run_wrk "$DURATION" "$out" "$port" "$SC" || true
  t1=$(cpu_ticks "$SERVER_PID")
  stop_server "$SERVER_PID"
  reqs=$(awk '/ requests in / {print $1; exit}' "$out")
  # (wrk's percentiles are wrong under pipelining: none then.)
  p99=-
  [ "$SC" = pipeline ] || p99=$(to_ms "$(awk '$1 == "99%" {print $2; exit}' "$out")")
  awk -v r="${reqs:-0}" -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v p="$p99" \
    'BEGIN { if (t <= 0 || r <= 0) exit 1; printf "%.0f %s\n", r / (t / hz), p }'
}

# median: the median of the numbers on stdin ("-" when there are none).
median() {
  sort -n | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "-"; exit }
    printf "%.3f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

log "$A / $B, $SC: $PAIRS pairs of ${DURATION}s runs"
ratios=() a_p99=() b_p99=()
for i in $(seq "$PAIRS"); do
  read -r a ap < <(measure "$A") || { log "pair $i: $A failed"; continue; }
  read -r b bp < <(measure "$B") || { log "pair $i: $B failed"; continue; }
  r=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", a / b }')
  ratios+=("$r")
  [ "$ap" != - ] && a_p99+=("$ap")
  [ "$bp" != - ] && b_p99+=("$bp")
  echo "pair $i: $A $a, $B $b req/CPU-s, ratio $r; p99 $ap / $bp ms"
done
[ "${#ratios[@]}" -gt 0 ] || { echo "no pair completed" >&2; exit 1; }
if [ "${#a_p99[@]}" -gt 0 ] && [ "${#b_p99[@]}" -gt 0 ]; then
  echo "p99 latency, median of the runs: $A $(printf '%s\n' "${a_p99[@]}" | median) ms, $B $(printf '%s\n' "${b_p99[@]}" | median) ms"
fi
printf '%s\n' "${ratios[@]}" | sort -n | awk -v a="$A" -v b="$B" -v sc="$SC" '
  { v[NR] = $1 }
  END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%s / %s, %s: median %.3f over %d pairs (range %.3f-%.3f)\n", a, b, sc, m, NR, v[1], v[NR]
  }'
