#!/usr/bin/env bash
# Two builds of the peers driver's hcx client, pinned with nginx on CPU 0, in pairs
# whose order alternates, and the median of the per-pair ratios B/A of requests/s
# and of client CPU per request: a change of a percent or two needs tens of pairs on
# a noisy 2-core machine, and pairing takes out the drift between pairs.
#   usage: benches/peers/ab_pair.sh PAIRS SECONDS BINARY_A BINARY_B [URL]
#   e.g.   benches/peers/ab_pair.sh 30 2 /tmp/peers.before benches/peers/target/release/peers
# docs/benchmarks.md ("Session 22") shows a run.
set -euo pipefail
PAIRS="$1" SECS="$2" A="$3" B="$4" URL="${5:-http://127.0.0.1:18091/small}"
run() {
  taskset -c 0 "$1" --client hcx --url "$URL" --threads 1 --seconds "$SECS" --warmup 0.3 \
    --cell x --layout pinned | tail -1 |
    python3 -c 'import json, sys; d = json.loads(sys.stdin.read()); print(d["rps"], d["cpu_us_per_req"])'
}
for i in $(seq "$PAIRS"); do
  if (( i % 2 )); then a="$(run "$A")"; b="$(run "$B")"; else b="$(run "$B")"; a="$(run "$A")"; fi
  echo "$a $b"
done | python3 -c '
import statistics as st, sys
rows = [list(map(float, line.split())) for line in sys.stdin if line.strip()]
rps = [b / a for a, _, b, _ in rows]
cpu = [bc / ac for _, ac, _, bc in rows]
print(f"{len(rows)} pairs: A median {st.median(r[0] for r in rows):.0f} req/s, "
      f"B median {st.median(r[2] for r in rows):.0f} req/s; B/A requests/s paired median "
      f"{st.median(rps):.4f} (mean {st.mean(rps):.4f}, range {min(rps):.3f}-{max(rps):.3f}); "
      f"B/A client CPU per request {st.median(cpu):.4f}")'
