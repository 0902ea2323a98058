#!/usr/bin/env bash
# Pinned rounds against `wrk -c1 -t1`: each round runs wrk, then every command given,
# all under `taskset -c 0` with the server pinned there too (start it so), and prints
# each command's median requests/s, its ratio to wrk's median and the median of the
# per-round ratios. A command prints one JSON line with "rps" (and "cpu_us_per_req"):
# the peers driver, `floor_loop`, or `par_loop … json`. A round whose wrk or command
# printed no figure is left out.
#   usage: benches/peers/wrk_ab.sh ROUNDS SECONDS URL label='command …' [label='…' …]
# docs/benchmarks.md ("Session 12") shows a run.
set -euo pipefail
ROUNDS="$1" SECS="$2" URL="$3"
shift 3
OUT="$(mktemp)"
trap 'rm -f "$OUT"' EXIT
for round in $(seq "$ROUNDS"); do
  rps="$(taskset -c 0 wrk -c1 -t1 -d"${SECS}s" "$URL" | awk '/^Requests\/sec:/ {print $2}')"
  [[ -n "$rps" ]] && echo "wrk $round $rps" >>"$OUT"
  for pair in "$@"; do
    label="${pair%%=*}" command="${pair#*=}"
    line="$(eval "taskset -c 0 $command" | tail -1)" || true
    python3 -c 'import json, sys
try:
    d = json.loads(sys.argv[1])
except ValueError:
    sys.exit(f"{sys.argv[2]}, round {sys.argv[3]}: no JSON line ({sys.argv[1]!r})")
print(sys.argv[2], sys.argv[3], d["rps"], d.get("cpu_us_per_req", "nan"))' "$line" "$label" "$round" >>"$OUT" || true
  done
done
python3 - "$OUT" <<'PY'
import collections, statistics as st, sys
rps, cpu = collections.defaultdict(dict), collections.defaultdict(dict)
for line in open(sys.argv[1]):
    label, rnd, r, *c = line.split()
    rps[label][int(rnd)] = float(r)
    if c:
        cpu[label][int(rnd)] = float(c[0])
wrk = rps.pop("wrk")
w = st.median(wrk.values())
print(f"wrk          median {w:8.0f} (range {min(wrk.values()):.0f}-{max(wrk.values()):.0f})")
for label, runs in rps.items():
    ratios = [runs[r] / wrk[r] for r in runs if wrk.get(r)]
    print(f"{label:12} median {st.median(runs.values()):8.0f}  / wrk {st.median(runs.values()) / w:.3f}"
          f"  paired {st.median(ratios):.3f} (range {min(ratios):.2f}-{max(ratios):.2f})"
          f"  CPU {st.median(cpu[label].values()):.2f} µs/request")
PY
