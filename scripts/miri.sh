#!/usr/bin/env bash
# scripts/miri.sh: runs the unit tests of Squall's unsafe byte code under Miri, which checks
# every pointer access, every uninitialised read and every aliasing rule those tests reach.
#
# usage: scripts/miri.sh [FILTER...]
#   FILTER  libtest filters (default: the units below); e.g. scripts/miri.sh http1::wire
#
# What runs (the library's unit tests whose code holds `unsafe` or calls what does, and that
# need no socket, epoll, clock or process: Miri cannot run those):
#   http1::wire           put_all's unchecked appends (copy_short, copy_ends, set_len)
#   http1::fields         header fields read through the SSE2 block scans (crate::simd:
#                         unaligned loads, movemask), which have no tests of their own
#   http1::request_line   the request-line parser's SSE2 target scan
#   http1::parse          whole heads: the scans, trusted_str's from_utf8_unchecked on the
#                         spans they record, and Request's ManuallyDrop parts (built and
#                         dropped by the tests)
#   http1::chunked        chunk framing over the same buffers
# Skipped unless MIRI_FULL=1: the exhaustive tests (every byte at every position, thousands of
# generated heads), which take from minutes to hours each under Miri and reach no unsafe code
# the others do not: request_line's target_blocks, wire's integers_without_format and
# name_comparison, fields' and parse's generated / every_single_byte / split_reads. Always
# skipped: wire's date_cache test (reads the wall clock; no unsafe code).
# Not run at all (Miri has no model of them): the loop's epoll_wait and fd tables (ioloop),
# the stream's readv/recv (iostream), fork/exec/signals (process), socket options (netutil).
#
# Needs a nightly toolchain with the miri component (`rustup toolchain install nightly`,
# `rustup +nightly component add miri rust-src`); the script tries to add the component, and
# without a nightly or the component it says what is missing and exits 0, so a CI job that has
# neither can still call it. Exits 1 if Miri reports undefined behaviour or a test fails.
# The build goes to target/miri (MIRI_CLEAN=1 removes it at the end).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 2

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "scripts/miri.sh: skipped: no nightly toolchain (rustup toolchain install nightly)"
  exit 0
fi
if ! cargo +nightly miri --version >/dev/null 2>&1; then
  if ! rustup +nightly component add miri rust-src >/dev/null 2>&1 \
    || ! cargo +nightly miri --version >/dev/null 2>&1; then
    echo "scripts/miri.sh: skipped: the nightly toolchain has no miri component and it could not be added (rustup +nightly component add miri rust-src)"
    exit 0
  fi
fi

if [ $# -gt 0 ]; then
  FILTERS=("$@")
else
  FILTERS=(http1::wire http1::fields http1::request_line http1::parse http1::chunked)
fi
SKIPS=(--skip date_cache_refreshes_each_second)
if [ "${MIRI_FULL:-0}" != 1 ]; then
  for t in target_blocks integers_without_format name_comparison generated every_single_byte split_reads; do
    SKIPS+=(--skip "$t")
  done
fi

echo "scripts/miri.sh: $(cargo +nightly miri --version)"
echo "scripts/miri.sh: squall --lib ${FILTERS[*]} ${SKIPS[*]}"
# Strict provenance: the byte code makes pointers only from slices and Vec buffers, never from
# integers. Isolation stays on: none of these tests reads the clock, the environment or files.
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-strict-provenance}"
start=$(date +%s)
nice cargo +nightly miri test -p squall --lib -- "${FILTERS[@]}" "${SKIPS[@]}"
rc=$?
echo "scripts/miri.sh: $( [ $rc = 0 ] && echo clean || echo "FAILED (exit $rc)" ) in $(( $(date +%s) - start )) s"
if [ "${MIRI_CLEAN:-0}" = 1 ]; then rm -rf "$ROOT/target/miri"; fi
[ $rc = 0 ] || exit 1
exit 0
