#!/usr/bin/env bash
# Instructions per request on hcx's default path, by callgrind: runs `par_loop` (one
# thread, one second) against URL under valgrind and prints, per call, the inclusive
# instructions of `Client::execute` and of `ResponseBody::into_vec` (the body read),
# from the call sites callgrind recorded. Deterministic up to warm-up: compare builds
# by alternating runs. docs/benchmarks.md ("Session 13", "Session 14") shows runs.
#   usage: benches/callgrind_per_request.sh PAR_LOOP_BINARY [URL] [par_loop options]
#   e.g.   cargo build --release -p hcx-benches --example par_loop
#          benches/callgrind_per_request.sh target/release/examples/par_loop http://127.0.0.1:18091/small
set -euo pipefail
BIN="$1"
URL="${2:-http://127.0.0.1:18091/small}"
shift $(( $# >= 2 ? 2 : 1 ))
OUT="$(mktemp)"
trap 'rm -f "$OUT"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$OUT" "$BIN" "$URL" 1 1 "$@" >/dev/null 2>&1
python3 - "$OUT" <<'PY'
import collections, re, sys
wanted = ["hcx::client::Client::execute", "hcx_exec::response_body::ResponseBody::into_vec"]
names, calls, incl = {}, collections.Counter(), collections.Counter()
callee, pending = None, None
for line in open(sys.argv[1], errors="replace"):
    line = line.rstrip("\n")
    m = re.match(r"^c?fn=\((\d+)\)(?: (.*))?$", line)
    if m:
        if m.group(2):
            names[m.group(1)] = m.group(2)
        if line.startswith("cfn="):
            callee = names.get(m.group(1), "")
        continue
    m = re.match(r"^calls=(\d+)", line)
    if m:
        pending = (callee, int(m.group(1)))
        continue
    if pending is not None:
        parts = line.split()
        if len(parts) >= 2 and pending[0] in wanted:
            calls[pending[0]] += pending[1]
            incl[pending[0]] += int(parts[1])
        pending = None
total = 0
for name in wanted:
    per = incl[name] / max(calls[name], 1)
    total += per
    print(f"{name}: {calls[name]} calls, {per:.0f} instructions per call")
print(f"per request: {total:.0f}")
PY
