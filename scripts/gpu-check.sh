#!/usr/bin/env bash
# The GPU checks of issue "GPU", as one script for the GPU machine: device info,
# the cuda crate's tests (kernels vs the CPU reference, memory across 100 batches),
# and the witness speed-up on 1,024 inputs against one CPU core. Needs a release
# build of the workspace (CARGO_TARGET_DIR) and NVRTC on LD_LIBRARY_PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu-check}
mkdir -p "$out"
bin=${CARGO_TARGET_DIR:-target}/release/cipherproof
nvidia-smi | tee "$out/nvidia-smi.txt" || true
"$bin" gpu info --json | tee "$out/gpu-info.json"
cargo test --release -p cipherproof-cuda -- --nocapture 2>&1 | tee "$out/cuda-tests.txt"
for m in digits_mlp; do
  "$bin" gpu witness --model testdata/models/$m/model.onnx --input testdata/models/$m/test.json \
    --batch 1024 --backend cuda --compare --json | python3 -c 'import json,sys; d=json.load(sys.stdin); d.pop("quantized_outputs"); print(json.dumps(d))' \
    | tee "$out/witness-$m.json"
done
for m in 3l_relu_conv_fc lenet_5; do
  "$bin" gpu witness --model testdata/models/ezkl/$m/network.onnx --input testdata/models/ezkl/$m/input.json \
    --batch 1024 --backend cuda --compare --json | python3 -c 'import json,sys; d=json.load(sys.stdin); d.pop("quantized_outputs"); print(json.dumps(d))' \
    | tee "$out/witness-$m.json"
done
