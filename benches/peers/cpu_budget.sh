#!/usr/bin/env bash
# The CPU budget of the free layout: with T threads on all CPUs, how much CPU each
# request costs the client (the driver's getrusage) and the server (nginx's one
# worker, /proc/<pid>/stat), per client, in alternated rounds. When client + server
# use nearly all CPUs, requests/s follow their sum, and the server's share bounds
# what any client can reach.
#   benches/peers/cpu_budget.sh [rounds=5]      (needs nginx, python3)
# Environment: PORT=18092  THREADS=4  SECONDS_PER_RUN=3  CLIENTS="hcx hyper"
#              NGINX=nginx on the PATH or /usr/sbin/nginx
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Where `cargo build` (run in $HERE) puts the driver: CARGO_TARGET_DIR if set.
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
[[ "$TARGET_DIR" == /* ]] || TARGET_DIR="$HERE/$TARGET_DIR"
ROUNDS="${1:-5}"
PORT="${PORT:-18092}"
THREADS="${THREADS:-4}"
RUN_SECONDS="${SECONDS_PER_RUN:-3}"
CLIENTS="${CLIENTS:-hcx hyper}"
NGINX="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
PEERS="$TARGET_DIR/release/peers"
command -v python3 >/dev/null || { echo "cpu_budget.sh needs python3" >&2; exit 1; }
[[ -x "$NGINX" ]] || { echo "cpu_budget.sh needs nginx ($NGINX)" >&2; exit 1; }
(cd "$HERE" && cargo build --release --quiet --bin peers)

WORK="$(mktemp -d /tmp/hcx-budget.XXXXXX)"
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
events { worker_connections 1024; }
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
"$NGINX" -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/error.log"
URL="http://127.0.0.1:$PORT/small"
WORKER=""
for _ in $(seq 50); do
  WORKER="$(pgrep -P "$(cat "$WORK/nginx.pid" 2>/dev/null || echo 0)" || true)"
  [[ -n "$WORKER" ]] && break
  sleep 0.1
done
[[ -n "$WORKER" ]] || { echo "cpu_budget.sh: no nginx worker" >&2; exit 1; }
TICKS="$(getconf CLK_TCK)"
CPUS="$(nproc)"

# The worker's user + system CPU so far, in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$WORKER/stat"; }

echo "free layout, $THREADS threads, $CPUS CPUs, nginx one worker; µs of CPU per request"
for round in $(seq "$ROUNDS"); do
  for client in $CLIENTS; do
    before="$(ticks)"
    out="$("$PEERS" --client "$client" --url "$URL" --threads "$THREADS" \
      --seconds "$RUN_SECONDS" --warmup 0.3)"
    after="$(ticks)"
    python3 - "$out" "$before" "$after" "$TICKS" "$CPUS" "$round" <<'EOF'
import json, sys
d = json.loads(sys.argv[1])
before, after, ticks, cpus, round_ = (int(a) for a in sys.argv[2:7])
# The worker's ticks cover the warm-up too: divided by every request it served.
server = (after - before) / ticks * 1e6 / d["total_requests"]
client = d["cpu_us_per_req"]
share = (client + server) * d["rps"] / (cpus * 1e6)
print(f"round {round_} {d['client']:6s} {int(d['rps']):7d} req/s  client {client:5.2f}"
      f" + server {server:5.2f} = {client + server:5.2f}  ({share:.0%} of the CPUs)")
EOF
  done
done
