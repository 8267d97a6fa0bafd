# bench/lib.sh: shared by wrk.sh, pairs.sh and idle.sh (sourced, not run). Builds the servers, starts
# them pinned on loopback, runs wrk per scenario, measures their CPU time and memory, and kills
# them on exit.
# Every server listens on 127.0.0.1 only; nothing here talks to any other address.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
PEERS_DIR=$BENCH_DIR/peers
OUT_DIR=$BENCH_DIR/out
VENV=$OUT_DIR/venv
SQUALL_TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PEERS_TARGET=${CARGO_TARGET_DIR:-$PEERS_DIR/target}

ALL_SERVERS="squall squall-raw bare hyper actix tornado"
# The servers that serve HTTPS (--cert/--key), for the TLS scenarios.
TLS_SERVERS="squall squall-raw hyper"
TLS_CERT=$OUT_DIR/tls-cert.pem
TLS_KEY=$OUT_DIR/tls-key.pem
SERVERS=${SERVERS:-$ALL_SERVERS}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
SQUALL_ARGS=${SQUALL_ARGS:-}   # e.g. "--processes 1"; word-split on purpose
TORNADO_ARGS=${TORNADO_ARGS:-} # e.g. "--gzip"; word-split on purpose
CLK_TCK=$(getconf CLK_TCK)
STAMP=$(date +%Y-%m-%d_%H%M%S)

mkdir -p "$OUT_DIR"

log() { echo "[bench] $*" >&2; }

# Pinning needs two CPUs; on one, run unpinned and say so.
if [ "$(nproc)" -ge 2 ]; then
  PIN_SERVER=(taskset -c "$SERVER_CPU")
  PIN_CLIENT=(taskset -c "$CLIENT_CPU")
else
  log "fewer than 2 CPUs: server and client are not pinned apart; numbers mean little"
  PIN_SERVER=()
  PIN_CLIENT=()
fi

# ---- cleanup: every process started here is killed on exit ---------------------------------

STARTED_PIDS=()
cleanup() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- building --------------------------------------------------------------------------------

# Builds every server named in $SERVERS and sets READY to those that built. A server that
# fails to build is skipped with a message (and its log kept in bench/out).
prepare_servers() {
  READY=()
  local name blog
  for name in $SERVERS; do
    blog=$OUT_DIR/build-$name.log
    case $name in
      squall | squall-raw)
        log "building squall (cargo build --release --example bench)"
        if (cd "$ROOT" && cargo build --release --example bench) >"$blog" 2>&1 \
          && [ -x "$SQUALL_TARGET/release/examples/bench" ]; then
          READY+=("$name")
        else
          log "SKIP squall: build failed (examples/bench.rs missing?); see $blog:"
          tail -n 3 "$blog" | sed 's/^/    /' >&2
        fi
        ;;
      bare | hyper | actix)
        log "building ${name}_peer"
        if cargo build --release --manifest-path "$PEERS_DIR/Cargo.toml" -p "${name}_peer" \
          >"$blog" 2>&1; then
          READY+=("$name")
        else
          log "SKIP $name: build failed; see $blog:"
          tail -n 3 "$blog" | sed 's/^/    /' >&2
        fi
        ;;
      tornado)
        if ensure_tornado >"$blog" 2>&1; then
          READY+=(tornado)
        else
          log "SKIP tornado: could not set up a venv with tornado; see $blog"
        fi
        ;;
      *)
        log "SKIP $name: unknown server (known: $ALL_SERVERS)"
        ;;
    esac
  done
  if [ "${#READY[@]}" -eq 0 ]; then
    log "no server could be built"
    exit 1
  fi
}

ensure_tornado() {
  if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import tornado' 2>/dev/null; then
    return 0
  fi
  log "installing tornado 6 into $VENV"
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q 'tornado>=6,<7'
}

build_idle_client() {
  cargo build --release --manifest-path "$PEERS_DIR/Cargo.toml" -p idle_client \
    >"$OUT_DIR/build-idle_client.log" 2>&1 || {
    log "idle_client failed to build; see $OUT_DIR/build-idle_client.log"
    return 1
  }
  IDLE_CLIENT=$PEERS_TARGET/release/idle_client
}

# A self-signed ECDSA P-256 certificate for 127.0.0.1, made once with openssl, that every
# HTTPS server of a run serves (same key type, so the same handshake work).
ensure_tls_cert() {
  [ -s "$TLS_CERT" ] && [ -s "$TLS_KEY" ] && return 0
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
    -keyout "$TLS_KEY" -out "$TLS_CERT" >/dev/null 2>&1
}

# scenario_tls SCENARIO: how the server runs for it: "tls" (HTTPS, session resumption on),
# "tls-full" (HTTPS with --no-resumption: every handshake a full one), else "plain".
scenario_tls() {
  case $1 in
    https | resume) echo tls ;;
    handshake) echo tls-full ;;
    *) echo plain ;;
  esac
}

# ---- running ---------------------------------------------------------------------------------

# A port in 20000-29999 (outside the kernel's ephemeral range, so it cannot collide with the
# client side of wrk's connections) that nothing is bound to right now.
free_port() {
  python3 - <<'EOF'
import random, socket
for _ in range(500):
    p = random.randint(20000, 29999)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
else:
    raise SystemExit("no free port")
EOF
}

# start_server NAME PORT [plain|tls|tls-full]: starts NAME pinned to $SERVER_CPU (serving
# HTTPS with $TLS_CERT for "tls", without session resumption for "tls-full"), waits until it
# answers, sets SERVER_PID (the server itself: taskset execs it). Returns 1 if it never comes
# up.
start_server() {
  local name=$1 port=$2 mode=${3:-plain} slog=$OUT_DIR/server-$1.log i scheme=http
  local tls=()
  if [ "$mode" != plain ]; then
    case " $TLS_SERVERS " in
      *" $name "*) ;;
      *) log "$name does not serve HTTPS"; return 1 ;;
    esac
    ensure_tls_cert || { log "cannot make a certificate with openssl"; return 1; }
    tls=(--cert "$TLS_CERT" --key "$TLS_KEY")
    [ "$mode" = tls-full ] && tls+=(--no-resumption)
    scheme=https
  fi
  case $name in
    squall)
      # shellcheck disable=SC2086
      "${PIN_SERVER[@]}" "$SQUALL_TARGET/release/examples/bench" --port "$port" "${tls[@]}" \
        $SQUALL_ARGS >"$slog" 2>&1 &
      ;;
    squall-raw)
      # The raw HTTP delegate, without the Application (routing, handler, context).
      # shellcheck disable=SC2086
      "${PIN_SERVER[@]}" "$SQUALL_TARGET/release/examples/bench" --port "$port" --raw \
        "${tls[@]}" $SQUALL_ARGS >"$slog" 2>&1 &
      ;;
    tornado)
      # shellcheck disable=SC2086
      "${PIN_SERVER[@]}" "$VENV/bin/python" "$PEERS_DIR/tornado_peer.py" --port "$port" $TORNADO_ARGS \
        >"$slog" 2>&1 &
      ;;
    *)
      "${PIN_SERVER[@]}" "$PEERS_TARGET/release/${name}_peer" --port "$port" "${tls[@]}" \
        >"$slog" 2>&1 &
      ;;
  esac
  SERVER_PID=$!
  STARTED_PIDS+=("$SERVER_PID")
  for i in $(seq 100); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      log "$name exited at start; see $slog"
      return 1
    fi
    if curl -sk -o /dev/null --max-time 1 "$scheme://127.0.0.1:$port/plaintext"; then
      return 0
    fi
    sleep 0.1
  done
  log "$name did not answer on 127.0.0.1:$port within 10 s"
  stop_server "$SERVER_PID"
  return 1
}

stop_server() {
  local pid=$1 i
  kill "$pid" 2>/dev/null || true
  for i in $(seq 20); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# The process and all its live descendants (for --processes N later).
process_tree() {
  local pid=$1 child
  echo "$pid"
  for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do
    process_tree "$child"
  done
}

# Server CPU time in clock ticks: utime+stime of every live process in the tree (all threads),
# plus cutime+cstime (children that already exited and were reaped).
cpu_ticks() {
  local total=0 pid stat
  local -a f
  for pid in $(process_tree "$1"); do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    # The command name (field 2) may hold spaces; the fields after its closing ')' do not.
    read -r -a f <<<"${stat##*) }"
    # f[0] is field 3 (state), so utime (14), stime (15), cutime (16), cstime (17) are 11..14.
    total=$((total + f[11] + f[12] + f[13] + f[14]))
  done
  echo "$total"
}

# core_jiffies CPU: "busy total" jiffies of one core since boot, from /proc/stat (busy excludes
# idle and iowait). Whoever ran there counts: the server, wrk, or someone else's compiler.
core_jiffies() {
  awk -v c="cpu$1" '$1 == c { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}

# Resident memory of the whole process tree, in KiB.
rss_kib() {
  local total=0 pid kib
  for pid in $(process_tree "$1"); do
    kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || continue
    total=$((total + ${kib:-0}))
  done
  echo "$total"
}

# check_responses PORT: prints "ok" when both routes answer with the expected bodies and three
# pipelined requests sent in one write get three responses; otherwise what was wrong.
check_responses() {
  local port=$1 problems=() body n pipe
  body=$(curl -s --max-time 2 "http://127.0.0.1:$port/plaintext" || true)
  [ "$body" = "Hello, World!" ] || problems+=("plaintext body '$body'")
  body=$(curl -s --max-time 2 "http://127.0.0.1:$port/json" || true)
  [ "$body" = '{"message":"Hello, World!"}' ] || problems+=("json body '$body'")
  curl -s -D - -o /dev/null --max-time 2 "http://127.0.0.1:$port/plaintext" \
    | grep -qi '^date: ' || problems+=("no Date header")
  pipe=$OUT_DIR/pipeline-check.txt
  if exec 3<>"/dev/tcp/127.0.0.1/$port"; then
    printf 'GET /plaintext HTTP/1.1\r\nHost: b\r\n\r\nGET /json HTTP/1.1\r\nHost: b\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n' >&3
    timeout 3 cat <&3 >"$pipe" || true
    exec 3<&-
    n=$(grep -ao 'HTTP/1.1 200' "$pipe" | wc -l)
    [ "$n" -eq 3 ] || problems+=("$n/3 pipelined responses")
  else
    problems+=("cannot connect")
  fi
  if [ "${#problems[@]}" -eq 0 ]; then echo ok; else (IFS=';'; echo "${problems[*]}"); fi
}

# ---- wrk (wrk.sh and pairs.sh; they set DEPTH and CONNS) -----------------------------------

# wrk arguments for one scenario, one per line; "URL:/path" stands for the server's URL.
scenario_args() {
  case $1 in
    plaintext) printf '%s\n' URL:/plaintext ;;
    pipeline) printf '%s\n' -s "$BENCH_DIR/pipeline.lua" URL:/plaintext -- "$DEPTH" ;;
    json) printf '%s\n' URL:/json ;;
    close) printf '%s\n' -H 'Connection: close' URL:/plaintext ;;
    # 16 KiB of text, gzip-encoded when the server runs with --gzip (SQUALL_ARGS, TORNADO_ARGS).
    gzip) printf '%s\n' -H 'Accept-Encoding: gzip' URL:/gzip ;;
    # TechEmpower's Fortunes page, rendered by a template (squall and tornado only).
    fortunes) printf '%s\n' URL:/fortunes ;;
    # HTTPS (TLS_SERVERS only): keep-alive; a new TLS connection per request with a full
    # handshake each (the server runs with --no-resumption); and the same with resumption on,
    # which wrk uses: it keeps its SSL object across reconnections (SSL_clear keeps the
    # session), so every connection after its first resumes (TLS 1.3 PSK with ECDHE: no
    # certificate sent or signed).
    https) printf '%s\n' URL:/plaintext ;;
    handshake | resume) printf '%s\n' -H 'Connection: close' URL:/plaintext ;;
    *) return 1 ;;
  esac
}

# Converts wrk's "123.45us" / "1.20ms" / "2.00s" to milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : -1
    if (v == "" || f < 0) print "-"; else printf "%.3f", n * f
  }'
}

# run_wrk SECONDS OUTFILE PORT SCENARIO: wrk pinned to the client CPU, bounded by timeout.
run_wrk() {
  local secs=$1 out=$2 port=$3 sc=$4 args=() url_args=() a scheme=http
  mapfile -t args < <(scenario_args "$sc")
  [ "$(scenario_tls "$sc")" = plain ] || scheme=https
  # Only loopback URLs; everything after "--" goes to the Lua script.
  for a in "${args[@]}"; do
    if [[ $a == URL:* ]]; then url_args+=("$scheme://127.0.0.1:$port${a#URL:}"); else url_args+=("$a"); fi
  done
  timeout $((secs + 30)) "${PIN_CLIENT[@]}" wrk -t1 -c"$CONNS" -d"${secs}s" --latency \
    "${url_args[@]}" >"$out" 2>&1
}
