#!/usr/bin/env bash
# Quick start: build cipherproof, run the digits MLP fixture in float and fixed-point,
# then compile it to a halo2 circuit, prove one inference, verify the proof, and
# generate its EVM verifier (pinned solc from npm), check the proof on it in revm, and
# on a local anvil chain deploy the contracts, register the model and submit the proof.
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
# One advice column: the cheapest EVM verifier (about 296k gas), since this proof goes on chain.
echo "== cipherproof compile $model/model.onnx --out $out/digits_mlp --calibration $model/calibration.json --max-advice-columns 1"
"$bin" compile "$model/model.onnx" --out "$out/digits_mlp" --calibration "$model/calibration.json" --max-advice-columns 1
echo
echo "== cipherproof prove --model $out/digits_mlp --input $model/input.json --out $out/proof.json"
"$bin" prove --model "$out/digits_mlp" --input "$model/input.json" --out "$out/proof.json"
echo
echo "== cipherproof verify --model $out/digits_mlp --proof $out/proof.json"
"$bin" verify --model "$out/digits_mlp" --proof "$out/proof.json"
echo
echo "== cipherproof verifier --model $out/digits_mlp --out $out/evm --proof $out/proof.json"
"$bin" verifier --model "$out/digits_mlp" --out "$out/evm" --proof "$out/proof.json"
echo
# A local chain: the pinned anvil on a free port (8545 upward), stopped when the script ends.
port=8545
while (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
tools/node/node_modules/.bin/anvil --host 127.0.0.1 --port "$port" --silent &
anvil_pid=$!
trap 'kill $anvil_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
rpc="http://127.0.0.1:$port"
echo "== cipherproof chain deploy --rpc $rpc"
"$bin" chain deploy --rpc "$rpc"
echo "== cipherproof chain register --rpc $rpc --model $out/digits_mlp"
"$bin" chain register --rpc "$rpc" --model "$out/digits_mlp"
echo "== cipherproof chain submit --rpc $rpc --model $out/digits_mlp --proof $out/proof.json"
"$bin" chain submit --rpc "$rpc" --model "$out/digits_mlp" --proof "$out/proof.json"
