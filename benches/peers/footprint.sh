#!/usr/bin/env bash
# Code footprint per request: how many distinct instructions a client runs on (nearly)
# every request, by callgrind over the peers driver (one thread, one second). An
# instruction counts when it ran at least once per two requests of the run; its bytes
# are estimated from the next instruction's address. On one shared CPU (the pinned
# cells) the server runs between two requests and evicts the client's code from the
# first-level caches, so each request pays for the code it touches, not only for the
# instructions it executes: docs/benchmarks.md ("Session 18") shows the fit.
#   usage: benches/peers/footprint.sh CLIENT [URL] [TOP]   (CLIENT: hcx, ureq, hyper, …)
#   e.g.   benches/peers/footprint.sh hcx http://127.0.0.1:18091/small 30
set -euo pipefail
CLIENT="$1"
URL="${2:-http://127.0.0.1:18091/small}"
TOP="${3:-25}"
HERE="$(cd "$(dirname "$0")" && pwd)"
# Where `cargo build` (run in $HERE) puts the driver: CARGO_TARGET_DIR if set.
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
[[ "$TARGET_DIR" == /* ]] || TARGET_DIR="$HERE/$TARGET_DIR"
BIN="${PEERS_BIN:-$TARGET_DIR/release/peers}"
[[ -x "$BIN" ]] || (cd "$HERE" && cargo build --release -q)
OUT="$(mktemp)" JSON="$(mktemp)"
trap 'rm -f "$OUT" "$JSON"' EXIT
valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file="$OUT" \
  "$BIN" --client "$CLIENT" --url "$URL" --threads 1 --seconds 1 --warmup 0.2 >"$JSON" 2>/dev/null
python3 - "$OUT" "$JSON" "$TOP" <<'PY'
import collections, json, re, sys
out, js, top = sys.argv[1], sys.argv[2], int(sys.argv[3])
requests = json.loads(open(js).read().strip().splitlines()[-1])["total_requests"]
least = max(requests // 2, 1)
names, counts = {}, collections.Counter()
fn, last, skip = None, 0, False
pos = re.compile(r"^(0x[0-9a-fA-F]+|[+-]\d+|\*)\s+\S+\s+(\d+)")
for line in open(out, errors="replace"):
    m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
    if m:
        if m.group(3):
            names[m.group(2)] = m.group(3)
        if m.group(1) == "fn":
            fn = m.group(2)
        continue
    if line.startswith("calls="):
        skip = True  # the next line is the call's inclusive cost, not an instruction's
        continue
    m = pos.match(line)
    if not m:
        continue
    p = m.group(1)
    last = int(p, 16) if p.startswith("0x") else last if p == "*" else last + int(p)
    if skip:
        skip = False
        continue
    counts[(last, fn)] += int(m.group(2))
# An instruction is counted once, whatever context callgrind saw it in (a recursive
# call is named `f'2`), and named after the function that ran it most.
total, owner = collections.Counter(), {}
for (a, f), c in counts.items():
    total[a] += c
    if c > counts.get((a, owner.get(a)), -1):
        owner[a] = f
addrs = sorted(total)
following = dict(zip(addrs, addrs[1:]))
hot = [(a, owner[a]) for a in addrs if total[a] >= least]
size = sum(min(following.get(a, a + 4) - a, 15) for a, _ in hot)
lines = {a >> 6 for a, _ in hot}
print(f"requests {requests}; instructions run at least {least} times:")
print(f"distinct hot instructions {len(hot)}, ~{size} bytes, on {len(lines)} cache lines ({len(lines) * 64} bytes)")
per = collections.Counter(names.get(f, f) for _, f in hot)
for name, n in per.most_common(top):
    print(f"{n:6d}  {name[:140]}")
PY
