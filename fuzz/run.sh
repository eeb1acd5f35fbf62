#!/usr/bin/env bash
# Builds and runs one fuzz target with libFuzzer on the stable toolchain (coverage
# instrumentation through stable -C flags; no sanitizer, so no nightly needed).
#   fuzz/run.sh TARGET SECONDS
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?target: tx_decode | psbt_decode | address_parse | p2p_decode}
seconds=${2:-60}
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$PWD/target}"
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
# An explicit --target keeps the instrumentation out of build scripts and proc macros.
triple=$(rustc -vV | sed -n "s/^host: //p")
cargo build --release --target "$triple" --bin "$target"
mkdir -p "corpus/$target" "artifacts/$target"
python3 seed.py "$target"
"$CARGO_TARGET_DIR/$triple/release/$target" "corpus/$target" -max_total_time="$seconds" \
  -artifact_prefix="artifacts/$target/" -print_final_stats=1
