#!/usr/bin/env bash
# The GPU checks of issue "GPU" as one script for the GPU machine (docs/GPU.md):
# device info; for digits_mlp, 3l_relu_conv_fc and lenet_5 the integer witness of
# 1,024 inputs on the GPU, checked equal to the CPU reference and timed against
# one CPU core; and 100 GPU batches with the change in free device memory (leak
# check). With CIPHERPROOF_BIN unset it builds the release binary first; with
# CARGO=1 it also runs the cuda crate's tests in release. Results go to $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu-check}
mkdir -p "$out"
# NVRTC: the machine's CUDA toolkit, or the pinned wheel.
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
  [ -e "$d/libnvrtc.so.12" ] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done
if ! ldconfig -p | grep -q libnvrtc.so.12 && [[ "${LD_LIBRARY_PATH:-}" != *cuda* ]]; then
  export LD_LIBRARY_PATH="$(scripts/nvrtc.sh)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
bin=${CIPHERPROOF_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release -p cipherproof-gateway
  bin=${CARGO_TARGET_DIR:-target}/release/cipherproof
fi
nvidia-smi > "$out/nvidia-smi.txt" 2>&1 || true
"$bin" gpu info --json | tee "$out/gpu-info.json"
strip_outputs='import json,sys; d=json.load(sys.stdin); d.pop("quantized_outputs"); print(json.dumps(d))'
witness() { # name model input
  "$bin" gpu witness --model "$2" --input "$3" --batch 1024 --backend cuda --compare --repeat 5 --json \
    | python3 -c "$strip_outputs" | tee "$out/witness-$1.json"
}
witness digits_mlp testdata/models/digits_mlp/model.onnx testdata/models/digits_mlp/test.json
for m in 3l_relu_conv_fc lenet_5; do
  witness "$m" testdata/models/ezkl/$m/network.onnx testdata/models/ezkl/$m/input.json
done
"$bin" gpu witness --model testdata/models/digits_mlp/model.onnx --input testdata/models/digits_mlp/test.json \
  --batch 1024 --backend cuda --repeat 100 --json | python3 -c "$strip_outputs" | tee "$out/leak-100-batches.json"
if [ "${CARGO:-0}" = "1" ]; then
  CIPHERPROOF_REQUIRE_GPU=1 cargo test --release -p cipherproof-cuda -- --nocapture 2>&1 | tee "$out/cuda-tests.txt"
fi
