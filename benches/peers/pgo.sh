#!/usr/bin/env bash
# Builds the peers driver with profile-guided optimisation and prints its path.
#
# An instrumented build runs each of CLIENTS (one, for a build trained on that
# client's own requests, as `PGO=1 run.sh` makes them) on the small, 16 KiB, chunked
# and `Connection: close` paths (one thread and four, pinned to CPU 0 as the server
# should be), the profiles are merged with
# the toolchain's own `llvm-profdata` (rustup's `llvm-tools` component, added when
# missing: a system llvm-profdata of another LLVM version cannot read them), and the
# driver is rebuilt with them. docs/benchmarks.md ("Session 23") shows what it changes.
#   usage: benches/peers/pgo.sh BASE_URL [TARGET_DIR]
#   e.g.   CLIENTS=hcx benches/peers/pgo.sh http://127.0.0.1:18091
#          (then PEERS_BIN=<its output> footprint.sh, or the path in wrk_ab.sh's commands)
# Environment: CLIENTS="hcx ureq reqwest hyper"  TRAIN_SECONDS=1
set -euo pipefail
BASE="$1"
HERE="$(cd "$(dirname "$0")" && pwd)"
TARGET="${2:-$HERE/target-pgo}"
CLIENTS="${CLIENTS:-hcx ureq reqwest hyper}"
TRAIN_SECONDS="${TRAIN_SECONDS:-1}"

sysroot="$(rustc --print sysroot)"
host="$(rustc -vV | sed -n 's/^host: //p')"
profdata="$sysroot/lib/rustlib/$host/bin/llvm-profdata"
if [[ ! -x "$profdata" ]]; then
  rustup component add llvm-tools >&2
fi

data="$TARGET/profiles"
rm -rf "$data"
mkdir -p "$data"
# One instrumented build serves every training (the profiles go where
# LLVM_PROFILE_FILE says), so a build per client rebuilds only the optimised driver.
generate="$HERE/target-pgo/generate"
(cd "$HERE" && RUSTFLAGS="-Cprofile-generate=$generate/profiles" CARGO_TARGET_DIR="$generate" \
  cargo build --release --quiet --bin peers) >&2
export LLVM_PROFILE_FILE="$data/%p-%m.profraw"
for client in $CLIENTS; do
  for path in small 16k chunked close; do
    for threads in 1 4; do
      [[ "$path" == close && "$threads" == 4 ]] && continue
      taskset -c 0 "$generate/release/peers" --client "$client" --url "$BASE/$path" \
        --threads "$threads" --seconds "$TRAIN_SECONDS" --warmup 0.1 >/dev/null
    done
  done
done
"$profdata" merge -o "$TARGET/merged.profdata" "$data"
# The profile's contents are not in Cargo's fingerprint: build afresh, or a driver
# optimised for an older profile would stay.
rm -rf "$TARGET/use"
(cd "$HERE" && RUSTFLAGS="-Cprofile-use=$TARGET/merged.profdata" CARGO_TARGET_DIR="$TARGET/use" \
  cargo build --release --quiet --bin peers) >&2
echo "$TARGET/use/release/peers"
