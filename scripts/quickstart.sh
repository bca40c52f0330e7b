#!/usr/bin/env bash
# Quick start: build cipherproof and run the digits MLP fixture in float and fixed-point.
# Needs only a Rust toolchain (no server, no Python).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p cipherproof-gateway
bin="${CARGO_TARGET_DIR:-target}/release/cipherproof"
model=testdata/models/digits_mlp
echo "== cipherproof inspect $model/model.onnx"
"$bin" inspect "$model/model.onnx"
echo
echo "== cipherproof run --model $model/model.onnx --input $model/input.json --calibration $model/calibration.json"
"$bin" run --model "$model/model.onnx" --input "$model/input.json" --calibration "$model/calibration.json"
