#!/usr/bin/env bash
# Quick start: build cipherproof, run the digits MLP fixture in float and fixed-point,
# then compile it to a halo2 circuit, prove one inference, verify the proof, and
# generate its EVM verifier (pinned solc from npm) and check the proof on it in revm.
# Needs a Rust toolchain and Node.js/npm (no server, no Python). Work files go to ./quickstart-out.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/node-tools.sh
cargo build --release --quiet -p cipherproof-gateway
bin="${CARGO_TARGET_DIR:-target}/release/cipherproof"
model=testdata/models/digits_mlp
out=quickstart-out
mkdir -p "$out"
echo "== cipherproof inspect $model/model.onnx"
"$bin" inspect "$model/model.onnx"
echo
echo "== cipherproof run --model $model/model.onnx --input $model/input.json --calibration $model/calibration.json"
"$bin" run --model "$model/model.onnx" --input "$model/input.json" --calibration "$model/calibration.json"
echo
echo "== cipherproof compile $model/model.onnx --out $out/digits_mlp --calibration $model/calibration.json"
"$bin" compile "$model/model.onnx" --out "$out/digits_mlp" --calibration "$model/calibration.json"
echo
echo "== cipherproof prove --model $out/digits_mlp --input $model/input.json --out $out/proof.json"
"$bin" prove --model "$out/digits_mlp" --input "$model/input.json" --out "$out/proof.json"
echo
echo "== cipherproof verify --model $out/digits_mlp --proof $out/proof.json"
"$bin" verify --model "$out/digits_mlp" --proof "$out/proof.json"
echo
echo "== cipherproof verifier --model $out/digits_mlp --out $out/evm --proof $out/proof.json"
"$bin" verifier --model "$out/digits_mlp" --out "$out/evm" --proof "$out/proof.json"
