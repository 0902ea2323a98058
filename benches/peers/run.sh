#!/usr/bin/env bash
# Peer comparison: hcx, ureq, reqwest (blocking) and hyper-util against nginx on
# loopback, or against peers-server where nginx is missing. See README.md.
# Environment (defaults):
#   RUNS=3 SECONDS=3 (or SECONDS_PER_RUN=3) WARMUP=1: runs per cell, measured and warmup seconds
#   CLIENTS="hcx ureq reqwest hyper"  LAYOUTS="pinned free"  CELLS="<all>"
#   SERVER=auto (nginx if installed, else peers-server; or nginx, rust)  INSTALL_NGINX=0
#   PORT=18089  FREE_WORKERS=1 (server workers in the free layout)
#   IDLE_CONNS=1000  IDLE_PATHS="/16k /small"  SKIP_STRACE=0  SKIP_IDLE=0  SKIP_WRK=0  SKIP_BUILD=0
#   PGO=0 (1: each client measured in a driver built with profile-guided optimisation
#   trained on that client's requests to this server, as an application trains its own
#   build: pgo.sh, once per client)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Where `cargo build` (run in $HERE) puts the driver: CARGO_TARGET_DIR if set.
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
[[ "$TARGET_DIR" == /* ]] || TARGET_DIR="$HERE/$TARGET_DIR"
# `SECONDS` is bash's clock: read the user's value once, then leave it alone.
# (Only an exported SECONDS reaches `env`; bash's own counter does not.)
RUN_SECONDS="${SECONDS_PER_RUN:-$(env | sed -n 's/^SECONDS=//p')}"
RUN_SECONDS="${RUN_SECONDS:-3}"
RUNS="${RUNS:-3}"
WARMUP="${WARMUP:-1}"
CLIENTS="${CLIENTS:-hcx ureq reqwest hyper}"
LAYOUTS="${LAYOUTS:-pinned free}"
ALL_CELLS="h1_seq_x1_small h1_seq_x1_16k h1_seq_x1_chunked h1_par_x4_small h1_par_x16_small h1_par_x16_small_c4 h1_churn_connclose"
CELLS="${CELLS:-$ALL_CELLS}"
PORT="${PORT:-18089}"
FREE_WORKERS="${FREE_WORKERS:-1}"
IDLE_CONNS="${IDLE_CONNS:-1000}"
IDLE_PATHS="${IDLE_PATHS:-/16k /small}"
NGINX="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
SERVER="${SERVER:-auto}"
BASE="http://127.0.0.1:$PORT"

STAMP="$(date +%Y%m%d-%H%M%S)"
mkdir -p "$HERE/results"
RAW="$HERE/results/raw-$STAMP.jsonl"
SUMMARY="$HERE/results/summary-$STAMP.md"
: >"$RAW"
START_TIME=$(date +%s)

# The idle-connection mode opens ~1000 sockets; the cells a few.
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  (cd "$HERE" && cargo build --release --quiet)
fi
PEERS="$TARGET_DIR/release/peers"
# The driver a client is measured in: its own PGO build with PGO=1.
driver() { if [[ "${PGO:-0}" == 1 ]]; then echo "$HERE/target-pgo/$1/use/release/peers"; else echo "$PEERS"; fi; }
RUST_SERVER="$TARGET_DIR/release/peers-server"

# ---- which server --------------------------------------------------------------------
# nginx is the reference; where it is missing the run asks for it (INSTALL_NGINX=1
# installs it with apt-get as root) or uses peers-server, and says so.
if [[ "$SERVER" != rust && ! -x "$NGINX" && "${INSTALL_NGINX:-0}" == 1 ]]; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    echo "nginx not found: installing it (apt-get install nginx)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx >/dev/null; } \
      || echo "installing nginx failed" >&2
    NGINX="$(command -v nginx || echo "$NGINX")"
  else
    echo "INSTALL_NGINX=1 needs root and apt-get" >&2
  fi
fi
if [[ "$SERVER" == auto ]]; then
  if [[ -x "$NGINX" ]]; then SERVER=nginx; else
    SERVER=rust
    echo "nginx not found ($NGINX): using peers-server (SERVER=rust); INSTALL_NGINX=1 installs nginx" >&2
  fi
fi
case "$SERVER" in
  nginx) [[ -x "$NGINX" ]] || { echo "SERVER=nginx but $NGINX is not there" >&2; exit 1; }
    SERVER_NAME="nginx $("$NGINX" -v 2>&1 | sed 's/.*\///')" ;;
  rust) SERVER_NAME="peers-server" ;;
  *) echo "SERVER must be auto, nginx or rust" >&2; exit 1 ;;
esac
have() { command -v "$1" >/dev/null; }
if [[ "${SKIP_WRK:-0}" != 1 ]] && ! have wrk; then echo "wrk not found: no wrk reference" >&2; SKIP_WRK=1; fi
if [[ "${SKIP_STRACE:-0}" != 1 ]] && ! have strace; then echo "strace not found: no syscall counts" >&2; SKIP_STRACE=1; fi

WORK="$(mktemp -d /tmp/hcx-peers.XXXXXX)"
chmod 755 "$WORK"
SERVER_PID=""
cleanup() {
  stop_server
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---- nginx ---------------------------------------------------------------------------
mkdir -p "$WORK/html"
printf 'hello, world\n' >"$WORK/html/small.txt"
head -c 16384 /dev/zero | tr '\0' 'x' >"$WORK/html/16k.bin"
# The chunked body: a small HTML file through sub_filter, which drops Content-Length.
printf '<p>hello, chunked world</p>\n' >"$WORK/html/chunked.html"
chmod -R a+rX "$WORK/html"

write_conf() { # $1 = worker_processes
  cat >"$WORK/nginx.conf" <<EOF
worker_processes $1;
worker_rlimit_nofile 8192;
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;
daemon on;
events { worker_connections 4096; multi_accept on; }
http {
  access_log off;
  sendfile on;
  tcp_nodelay on;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  open_file_cache max=16 inactive=600s;
  open_file_cache_valid 600s;
  client_body_temp_path $WORK/client_body;
  proxy_temp_path $WORK/proxy;
  fastcgi_temp_path $WORK/fastcgi;
  uwsgi_temp_path $WORK/uwsgi;
  scgi_temp_path $WORK/scgi;
  types { text/html html; text/plain txt; application/octet-stream bin; }
  default_type text/plain;
  server {
    listen 127.0.0.1:$PORT backlog=4096;
    root $WORK/html;
    location = /small { return 200 "hello, world\n"; }
    location = /16k { try_files /16k.bin =404; }
    # sub_filter drops Content-Length, so the body goes chunked. A pattern that never
    # matches and no sendfile keep the response in memory: head, chunk and last chunk
    # leave in one writev, as an application server's small chunked reply would.
    location = /chunked {
      try_files /chunked.html =404;
      sendfile off;
      sub_filter 'no-such-text' '';
      sub_filter_once off;
    }
    location = /close { keepalive_timeout 0; return 200 "hello, world\n"; }
    location = /nginx_status { stub_status; }
  }
}
EOF
}

start_server() { # $1 = layout
  local workers=1 pin=()
  if [[ "$1" == pinned ]]; then pin=(taskset -c 0); else workers="$FREE_WORKERS"; fi
  if [[ "$SERVER" == nginx ]]; then
    write_conf "$workers"
    "${pin[@]}" "$NGINX" -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/error.log"
  else
    "${pin[@]}" "$RUST_SERVER" --port "$PORT" --workers "$workers" 2>"$WORK/error.log" &
    SERVER_PID=$!
  fi
  for _ in $(seq 50); do
    curl -fs "$BASE/small" >/dev/null && break
    sleep 0.1
  done
  if [[ "$SERVER" == nginx ]]; then SERVER_PID="$(cat "$WORK/nginx.pid")"; fi
}

stop_server() {
  if [[ -n "$SERVER_PID" ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    SERVER_PID=""
  fi
}

check_server() {
  [[ "$(curl -fs "$BASE/small")" == "hello, world" ]] || { echo "$SERVER_NAME /small wrong" >&2; exit 1; }
  [[ "$(curl -fs "$BASE/16k" | wc -c)" == 16384 ]] || { echo "$SERVER_NAME /16k wrong" >&2; exit 1; }
  curl -fsv "$BASE/chunked" 2>&1 >/dev/null | grep -qi '^< transfer-encoding: chunked' \
    || { echo "$SERVER_NAME /chunked is not chunked" >&2; exit 1; }
  curl -fsv "$BASE/close" 2>&1 >/dev/null | grep -qi '^< connection: close' \
    || { echo "$SERVER_NAME /close keeps the connection" >&2; exit 1; }
}

# ---- the cells -----------------------------------------------------------------------
cell_args() { # cell -> "path threads conns"
  case "$1" in
    h1_seq_x1_small) echo "/small 1 1" ;;
    h1_seq_x1_16k) echo "/16k 1 1" ;;
    h1_seq_x1_chunked) echo "/chunked 1 1" ;;
    h1_par_x4_small) echo "/small 4 4" ;;
    h1_par_x16_small) echo "/small 16 16" ;;
    h1_par_x16_small_c4) echo "/small 16 4" ;;
    h1_churn_connclose) echo "/close 1 1" ;;
    *) echo "unknown cell $1" >&2; exit 1 ;;
  esac
}

wrk_reference() { # $1 = layout (pinned only, as the task wants it), $2 = run
  local out rps p50 p99 errors
  out="$(taskset -c 0 wrk -c1 -t1 -d"${RUN_SECONDS}s" --latency "$BASE/small")"
  rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
  to_us() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); print v} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v*1000} else if (v ~ /s$/) {sub(/s$/,"",v); print v*1000000} }' <<<"$1"; }
  p50="$(to_us "$(awk '$1=="50%" {print $2}' <<<"$out")")"
  p99="$(to_us "$(awk '$1=="99%" {print $2}' <<<"$out")")"
  # wrk's own error lines: socket errors (connect, read, write, timeout) and
  # responses other than 2xx/3xx; absent when there were none.
  errors="$(awk '/^  Socket errors:/ {gsub(/,/,""); n+=$4+$6+$8+$10}
    /^  Non-2xx or 3xx responses:/ {n+=$5} END {print n+0}' <<<"$out")"
  printf '{"mode":"load","cell":"h1_seq_x1_small","layout":"%s","run":%s,"client":"wrk","threads":1,"conns":1,"rps":%s,"p50_us":%s,"p99_us":%s,"errors":%s}\n' \
    "$1" "$2" "$rps" "${p50:-null}" "${p99:-null}" "$errors" | tee -a "$RAW"
}

run_layout() { # $1 = layout
  local layout="$1" pin=()
  [[ "$layout" == pinned ]] && pin=(taskset -c 0)
  start_server "$layout"
  check_server
  echo "== layout $layout ($SERVER_NAME, pid $SERVER_PID)" >&2
  for cell in $CELLS; do
    read -r path threads conns <<<"$(cell_args "$cell")"
    # Runs interleave the clients (run 1 of each, then run 2 of each…), so that a
    # noisy stretch of the shared machine falls on every client, not on one.
    for run in $(seq "$RUNS"); do
      for client in $CLIENTS; do
        "${pin[@]}" "$(driver "$client")" --client "$client" --url "$BASE$path" --threads "$threads" \
          --conns "$conns" --seconds "$RUN_SECONDS" --warmup "$WARMUP" \
          --status "$BASE/nginx_status" --cell "$cell" --layout "$layout" --run "$run" \
          | tee -a "$RAW"
      done
      # The wrk reference runs in the same rounds, so its median and the clients'
      # come from the same stretch of the machine.
      if [[ "$layout" == pinned && "$cell" == h1_seq_x1_small && "${SKIP_WRK:-0}" != 1 ]]; then
        wrk_reference "$layout" "$run"
      fi
    done
  done
  if [[ "$layout" == pinned && "${SKIP_STRACE:-0}" != 1 ]]; then
    # Syscalls per request: every syscall of the process (all threads) over every
    # request it made, warmup included (the setup is a few hundred calls).
    for client in $CLIENTS; do
      local trace="$WORK/strace-$client.txt" line calls
      line="$(taskset -c 0 strace -f -c -o "$trace" "$(driver "$client")" --client "$client" --url "$BASE/small" \
        --threads 1 --seconds 2 --warmup 0.5 --cell strace --layout pinned)"
      calls="$(awk '$NF=="total" {print $4}' "$trace")"
      python3 - "$line" "$calls" "$trace" <<'PY' | tee -a "$RAW"
import json, sys
line, calls, trace = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
top = []
for row in open(trace).read().splitlines()[2:]:
    parts = row.split()
    if len(parts) >= 5 and parts[-1] not in ("total",) and not row.startswith("-"):
        try:
            top.append((int(parts[3]), parts[-1]))
        except ValueError:
            pass
top.sort(reverse=True)
total = max(line["total_requests"], 1)
print(json.dumps({"mode": "strace", "client": line["client"], "layout": "pinned",
                  "total_requests": line["total_requests"], "syscalls": calls,
                  "syscalls_per_req": calls / total,
                  "top": {name: round(n / total, 2) for n, name in top[:6]}}))
PY
    done
  fi
  if [[ "$layout" == pinned && "${SKIP_IDLE:-0}" != 1 ]]; then
    # /16k: a body hyper cannot finish before it is read, so the N requests in flight
    # hold N connections (with /small hyper-util reuses a connection as soon as the
    # body is off the wire, before its reader asks for it: fewer are opened).
    for path in $IDLE_PATHS; do
      for client in $CLIENTS; do
        [[ "$client" == reqwest ]] && continue # not asked for; its pool is hyper-util's
        GLIBC_TUNABLES=glibc.pthread.stack_cache_size=0 "$(driver "$client")" --client "$client" \
          --url "$BASE$path" --threads 2 --idle-conns "$IDLE_CONNS" \
          --status "$BASE/nginx_status" | tee -a "$RAW"
      done
    done
  fi
  stop_server
}

BUILD_KIND="thin LTO"
if [[ "${PGO:-0}" == 1 ]]; then
  start_server pinned
  for client in $CLIENTS; do
    PEERS="$(CLIENTS="$client" "$HERE/pgo.sh" "$BASE" "$HERE/target-pgo/$client")"
  done
  stop_server
  BUILD_KIND="thin LTO + PGO, one build per client trained on its own requests"
fi

for layout in $LAYOUTS; do
  run_layout "$layout"
done

# Which hcx was measured: the commit (with "+changes" for a dirty tree) and when the
# driver was built, which with SKIP_BUILD=1 may be before the commit.
HCX_REV="$(git -C "$HERE" rev-parse --short HEAD 2>/dev/null || echo unknown)"
[[ -n "$(git -C "$HERE/../.." status --porcelain --untracked-files=no 2>/dev/null)" ]] && HCX_REV="$HCX_REV+changes"
BUILT="$(date -u -r "$PEERS" +%Y-%m-%dT%H:%MZ 2>/dev/null || echo unknown)"
# The CPU: which targets a machine allows depends on it (docs/benchmarks.md, run 35).
CPU_MODEL="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1)"
CPU_MODEL="${CPU_MODEL:-unknown CPU}"
python3 "$HERE/summarize.py" "$RAW" \
  --note "RUNS=$RUNS SECONDS=$RUN_SECONDS WARMUP=$WARMUP FREE_WORKERS=$FREE_WORKERS $SERVER_NAME $(nproc) cores ($CPU_MODEL), wall $(( $(date +%s) - START_TIME )) s; hcx $HCX_REV, driver ($BUILD_KIND) built $BUILT" \
  | tee "$SUMMARY"
echo "raw: $RAW" >&2
echo "summary: $SUMMARY" >&2
