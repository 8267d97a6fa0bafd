#!/usr/bin/env bash
# scripts/fuzz.sh: runs every cargo-fuzz target of framework/fuzz for a bounded time, one after
# the other, and prints how many inputs each executed in how long.
#
# usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#   SECONDS  time per target (default 60); libFuzzer's -max_total_time
#   TARGET   only these targets (default: every target `cargo fuzz list` names)
#
# Needs a nightly toolchain and cargo-fuzz (`rustup toolchain install nightly`,
# `cargo install cargo-fuzz`); without them it says so and exits 0, so it can sit in a CI job
# that has neither. Each target starts from framework/fuzz/corpus/TARGET (kept between runs,
# ignored by git) and framework/fuzz/seeds/TARGET; the HTTP targets also get http.dict. Runs
# under `nice`: the machine stays usable. A crash stops that target, leaves its input in
# framework/fuzz/artifacts/TARGET/, and makes the script exit 1 after the other targets ran.
# The build goes to framework/fuzz/target (several GB with the sanitizer): remove it when done
# (FUZZ_CLEAN=1 does it at the end).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FUZZ=$ROOT/framework/fuzz
SECS=${1:-60}
shift || true
case $SECS in
  '' | *[!0-9]*) echo "scripts/fuzz.sh: SECONDS must be a whole number, not '$SECS'" >&2; exit 2 ;;
esac

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "scripts/fuzz.sh: skipped: no nightly toolchain (rustup toolchain install nightly)"
  exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "scripts/fuzz.sh: skipped: cargo-fuzz is not installed (cargo install cargo-fuzz)"
  exit 0
fi

cd "$FUZZ" || exit 2
if [ $# -gt 0 ]; then
  TARGETS=("$@")
else
  mapfile -t TARGETS < <(cargo +nightly fuzz list)
fi
if [ ${#TARGETS[@]} -eq 0 ]; then
  echo "scripts/fuzz.sh: no fuzz targets in $FUZZ" >&2
  exit 2
fi

LOGS=$FUZZ/artifacts/logs
mkdir -p "$LOGS"
failed=()
summary=()
for t in "${TARGETS[@]}"; do
  dirs=("corpus/$t")
  mkdir -p "corpus/$t"
  [ -d "seeds/$t" ] && dirs+=("seeds/$t")
  extra=()
  case $t in
    request_head | chunked | response) extra+=(-dict=http.dict) ;;
  esac
  log=$LOGS/$t.log
  echo "== $t: ${SECS}s (log: $log)"
  start=$(date +%s)
  nice -n 10 cargo +nightly fuzz run "$t" "${dirs[@]}" -- \
    -max_total_time="$SECS" -print_final_stats=1 "${extra[@]}" >"$log" 2>&1
  rc=$?
  took=$(( $(date +%s) - start ))
  execs=$(awk '/stat::number_of_executed_units/ {print $NF}' "$log" | tail -1)
  corpus=$(ls "corpus/$t" | wc -l)
  if [ $rc -eq 0 ]; then
    line="$t: ${execs:-?} inputs in ${SECS}s of fuzzing (${took}s with the build), corpus $corpus, clean"
  else
    line="$t: FAILED (exit $rc) after ${execs:-?} inputs; see $log and artifacts/$t/"
    failed+=("$t")
    tail -n 30 "$log"
  fi
  echo "$line"
  summary+=("$line")
done

echo
echo "== summary"
printf '%s\n' "${summary[@]}"
if [ -n "${FUZZ_CLEAN:-}" ]; then
  rm -rf "$FUZZ/target"
  echo "removed $FUZZ/target"
fi
[ ${#failed[@]} -eq 0 ] || { echo "failed: ${failed[*]}" >&2; exit 1; }
