#!/usr/bin/env bash
# The project's test command (README, .ci/run): every Rust test, then a live
# cross-check of the float reference against onnxruntime (pinned, from PyPI)
# through the CLI, and the stock tritonclient (pinned) against `cipherproof
# serve`. CIPHERPROOF_SKIP_PYTHON=1 skips only these two Python checks.
set -euo pipefail
cd "$(dirname "$0")/.."
# Pinned chain tools (solc-js 0.8.19, anvil) from npm, for the on-chain tests.
scripts/node-tools.sh
# NVRTC (pinned wheel) so the CUDA kernels' run-time compilation is tested
# here too; with it present, that test may not skip.
LD_LIBRARY_PATH="$(scripts/nvrtc.sh)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH
export CIPHERPROOF_REQUIRE_NVRTC=1
# The same kernels compiled for the CPU by the C++ compiler and checked against
# the model crate's reference (cuda/src/emulator.rs): required here too.
export CIPHERPROOF_REQUIRE_KERNEL_EMULATION=1
# One build for everything: the test binaries and the cipherproof binary they (and the cross-check) run.
cargo test --workspace --no-run
if [ "${CIPHERPROOF_SKIP_PYTHON:-0}" = "1" ]; then
  echo "WARNING: CIPHERPROOF_SKIP_PYTHON=1: onnxruntime and tritonclient checks skipped" >&2
else
  python=$(scripts/python-env.sh)
  "$python" scripts/check_onnxruntime.py --bin "${CARGO_TARGET_DIR:-target}/debug/cipherproof"
  "$python" scripts/check_kserve.py --bin "${CARGO_TARGET_DIR:-target}/debug/cipherproof"
fi
cargo test --workspace
