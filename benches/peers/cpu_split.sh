#!/usr/bin/env bash
# Where the CPU of one pinned request goes: hcx (the driver, T=1) against `wrk -c1`, and
# against wrk sending hcx's two default fields too (User-Agent, Accept-Encoding).
# nginx (one worker), the client and `perf record -C 0` share CPU 0; the samples are
# split by process (client or nginx) and by user or kernel, in µs per request.
#   benches/peers/cpu_split.sh [rounds=3]      (needs perf, wrk, nginx; root for perf -C)
# Environment: PORT=18090  SECONDS_PER_RUN=3  NGINX=nginx on the PATH or /usr/sbin/nginx
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Where `cargo build` (run in $HERE) puts the driver: CARGO_TARGET_DIR if set.
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
[[ "$TARGET_DIR" == /* ]] || TARGET_DIR="$HERE/$TARGET_DIR"
ROUNDS="${1:-3}"
PORT="${PORT:-18090}"
RUN_SECONDS="${SECONDS_PER_RUN:-3}"
NGINX="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
PEERS="$TARGET_DIR/release/peers"
for tool in perf wrk taskset python3; do
  command -v "$tool" >/dev/null || { echo "cpu_split.sh needs $tool" >&2; exit 1; }
done
[[ -x "$NGINX" ]] || { echo "cpu_split.sh needs nginx ($NGINX)" >&2; exit 1; }
(cd "$HERE" && cargo build --release --quiet --bin peers)

WORK="$(mktemp -d /tmp/hcx-split.XXXXXX)"
cleanup() {
  [[ -s "$WORK/nginx.pid" ]] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
cat >"$WORK/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;
daemon on;
events { worker_connections 64; }
http {
  access_log off;
  tcp_nodelay on;
  keepalive_requests 1000000;
  client_body_temp_path $WORK/cb; proxy_temp_path $WORK/p; fastcgi_temp_path $WORK/f;
  uwsgi_temp_path $WORK/u; scgi_temp_path $WORK/s;
  server {
    listen 127.0.0.1:$PORT;
    location = /small { return 200 "hello, world\n"; }
  }
}
EOF
taskset -c 0 "$NGINX" -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/error.log"
URL="http://127.0.0.1:$PORT/small"
for _ in $(seq 50); do curl -fs "$URL" >/dev/null && break; sleep 0.1; done

# The recording's length (CPU 0 is busy throughout, so its samples cover it).
duration() {
  perf report -i "$WORK/perf.data" --header-only 2>/dev/null \
    | awk '/sample duration/ {print $(NF-1) / 1000}'
}

# Reads `perf report --sort comm,dso` on stdin; $1 requests, $2 client, $3 seconds.
split() {
  python3 -c '
import sys
n, client, secs = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
cu = ck = nu = nk = other = 0.0
for line in sys.stdin:
    p = line.split()
    if len(p) < 3 or not p[0].endswith("%"):
        continue
    pct, comm, kernel = float(p[0][:-1]), p[1], "kernel" in " ".join(p[2:])
    if comm in ("peers", "wrk"):
        ck, cu = (ck + pct, cu) if kernel else (ck, cu + pct)
    elif comm == "nginx":
        nk, nu = (nk + pct, nu) if kernel else (nk, nu + pct)
    else:
        other += pct
per = secs * 1e6 / n
f = lambda x: x / 100 * per
print(f"{client:10} {n:8d} requests, {per:5.2f} us/request: client user {f(cu):.2f} kernel {f(ck):.2f}"
      f" | nginx user {f(nu):.2f} kernel {f(nk):.2f} | other {f(other):.2f}")
' "$@"
}

for _ in $(seq "$ROUNDS"); do
  perf record -q -C 0 -F 5000 -o "$WORK/perf.data" -- taskset -c 0 "$PEERS" --client hcx \
    --url "$URL" --threads 1 --seconds "$RUN_SECONDS" --warmup 0 >"$WORK/out" 2>/dev/null
  n="$(grep -o '"total_requests":[0-9]*' "$WORK/out" | cut -d: -f2)"
  perf report -i "$WORK/perf.data" --no-children --sort comm,dso -q -g none 2>/dev/null \
    | split "$n" hcx "$(duration)"
  # wrk as users run it, then with the two fields hcx sends by default (as Apache's
  # clients do): what those cost nginx shows apart from what the client costs.
  for fields in no yes; do
    extra=()
    [[ "$fields" == yes ]] && extra=(-H "user-agent: hcx/0.1.0" -H "accept-encoding: gzip, deflate")
    perf record -q -C 0 -F 5000 -o "$WORK/perf.data" -- taskset -c 0 wrk -c1 -t1 \
      -d"${RUN_SECONDS}s" "${extra[@]}" "$URL" >"$WORK/out" 2>&1
    n="$(awk '/requests in/ {print $1}' "$WORK/out")"
    perf report -i "$WORK/perf.data" --no-children --sort comm,dso -q -g none 2>/dev/null \
      | split "$n" "$([[ "$fields" == yes ]] && echo wrk+fields || echo wrk)" "$(duration)"
  done
done
