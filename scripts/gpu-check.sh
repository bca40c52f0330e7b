#!/usr/bin/env bash
# The GPU checks of issue "GPU" as one script for the GPU machine (docs/GPU.md):
#  1. the device (env.txt);
#  2. for digits_mlp, 3l_relu_conv_fc and lenet_5 the integer witness of 1,024
#     inputs on the GPU, checked equal to the CPU reference and timed against one
#     CPU core; then 100 GPU batches with the change in free device memory
#     (witness.jsonl);
#  3. proving: each model compiled (compile.jsonl), proved on the CPU (all cores)
#     and on the GPU (prove.jsonl), each proof checked by the CPU verifier
#     (verify.txt); 100 GPU proofs of digits_mlp with the change in free device
#     memory; the digits_mlp GPU proof comes back for the on-chain check on a
#     machine with solc;
#  4. the test binaries in gpu-bin/ (witness kernels, GPU proving) with
#     CIPHERPROOF_REQUIRE_GPU=1, so nothing skips (tests.txt);
#  5. the gateway's proof workers on the GPU: `serve --backend cuda`, digits_mlp
#     registered and three proven inferences through the client, the proofs
#     verified and counted under engine "cuda" in /metrics (gateway.txt).
# Binaries: gpu-bin/ from scripts/build-gpu-bin.sh (xz-compressed, unpacked
# here), or CIPHERPROOF_BIN. REPEAT: proofs per model and backend (default 3).
# SKIP_PROVE=1 skips step 3 (a rerun after a witness-kernel change).
# Results go to $OUT (8 files at most come back from the device tool).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu-check}
mkdir -p "$out"
log() { echo "$*" | tee -a "$out/log.txt"; }
# A failed step is logged and the next one still runs: device time is scarce.
failed=0
try() {
  "$@" && return 0
  local rc=$?
  log "FAILED ($rc): $*"
  failed=1
  return $rc
}
bin=${CIPHERPROOF_BIN:-}
bindir=/tmp/cipherproof-gpu-bin
if [ -z "$bin" ]; then
  mkdir -p "$bindir"
  for f in gpu-bin/*.xz; do
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
      "$f" "$bindir/$(basename "${f%.xz}")" && chmod +x "$bindir/$(basename "${f%.xz}")"
  done
  bin=$bindir/cipherproof
fi
# NVRTC (the witness kernels): cudarc opens libnvrtc.so or libnvrtc.so.12; link
# the machine's (CUDA 13) under the first name.
found=$(find /usr/local/cuda/lib64 /usr/local/cuda/targets /usr/local/cuda* /usr/lib /opt \
  -name 'libnvrtc.so*' -not -name '*builtins*' 2>/dev/null | head -1)
if [ -n "$found" ]; then
  mkdir -p /tmp/cipherproof-nvrtc && ln -sf "$found" /tmp/cipherproof-nvrtc/libnvrtc.so
  export LD_LIBRARY_PATH="/tmp/cipherproof-nvrtc:$(dirname "$found")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
# The CUDA runtime is linked statically (scripts/cuda-toolkit.sh); the driver is the machine's.
export CIPHERPROOF_CACHE=${CIPHERPROOF_CACHE:-/tmp/cipherproof-gpu-cache}
repeat=${REPEAT:-3}
{ nvidia-smi; echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"; ldd "$bin"; echo "cores: $(nproc)"; } > "$out/env.txt" 2>&1
try "$bin" gpu info --json >> "$out/env.txt"
tail -1 "$out/env.txt"

declare -A onnx=(
  [digits_mlp]=testdata/models/digits_mlp/model.onnx
  [3l_relu_conv_fc]=testdata/models/ezkl/3l_relu_conv_fc/network.onnx
  [lenet_5]=testdata/models/ezkl/lenet_5/network.onnx)
declare -A input=(
  [digits_mlp]=testdata/models/digits_mlp/test.json
  [3l_relu_conv_fc]=testdata/models/ezkl/3l_relu_conv_fc/input.json
  [lenet_5]=testdata/models/ezkl/lenet_5/input.json)
declare -A calibration=(
  [digits_mlp]=testdata/models/digits_mlp/calibration.json
  [3l_relu_conv_fc]=${input[3l_relu_conv_fc]} [lenet_5]=${input[lenet_5]})
models=(digits_mlp 3l_relu_conv_fc lenet_5)
work=$(mktemp -d)
# Appends $work/r.json to $out/$1 as one line tagged with "model": $2, without the outputs.
record() {
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); d.pop("quantized_outputs", None); print(json.dumps({"model": sys.argv[2], **d}))' \
    "$work/r.json" "$2" | tee -a "$out/$1"
}

# 2. Witness kernels.
for m in "${models[@]}"; do
  try "$bin" gpu witness --model "${onnx[$m]}" --input "${input[$m]}" --batch 1024 --backend cuda \
    --compare --repeat 5 --json > "$work/r.json" && record witness.jsonl "$m"
done
try "$bin" gpu witness --model "${onnx[digits_mlp]}" --input "${input[digits_mlp]}" --batch 1024 \
  --backend cuda --repeat 100 --json > "$work/r.json" && record witness.jsonl "digits_mlp, 100 batches"

# 3. Proving, CPU vs GPU.
[ "${SKIP_PROVE:-0}" = 1 ] && models=()
one_input() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); x=d.get("input_data") or d["inputs"]; json.dump({"input_data":[x[0]]}, open(sys.argv[2],"w"))' "$1" "$2"; }
for m in "${models[@]}"; do
  one_input "${input[$m]}" "$work/$m.input.json"
  try "$bin" compile "${onnx[$m]}" --out "$work/$m" --calibration "${calibration[$m]}" --json > "$work/r.json" \
    && record compile.jsonl "$m"
  for b in cpu cuda; do
    try "$bin" prove --model "$work/$m" --input "$work/$m.input.json" --out "$work/$m.$b.proof.json" \
      --backend "$b" --repeat "$repeat" --json > "$work/r.json" && record prove.jsonl "$m"
    try "$bin" verify --model "$work/$m" --proof "$work/$m.$b.proof.json" > "$work/v.txt" 2>&1
    sed "s/^/$m $b proof: /" "$work/v.txt" | tee -a "$out/verify.txt"
  done
  # Compared only when both proofs exist (two missing files must not read as equal).
  instances() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["instances"])' "$1" 2>/dev/null; }
  cpu_inst=$(instances "$work/$m.cpu.proof.json") gpu_inst=$(instances "$work/$m.cuda.proof.json")
  if [ -n "$cpu_inst" ] && [ "$cpu_inst" = "$gpu_inst" ]; then
    echo "$m: CPU and GPU proofs have the same public instances" | tee -a "$out/verify.txt"
  else
    log "FAILED: $m: the CPU and GPU proofs' public instances differ or a proof is missing" | tee -a "$out/verify.txt"
    failed=1
  fi
done
if [ "${SKIP_PROVE:-0}" != 1 ]; then
  try cp "$work/digits_mlp.cuda.proof.json" "$out/digits_mlp.cuda.proof.json"
  try "$bin" prove --model "$work/digits_mlp" --input "$work/digits_mlp.input.json" --out "$work/leak.proof.json" \
    --backend cuda --repeat 100 --json > "$work/r.json" && record prove.jsonl "digits_mlp, 100 proofs"
fi

# 4. The GPU tests.
for t in "$bindir"/test-*; do
  [ -x "$t" ] || continue
  CIPHERPROOF_REQUIRE_GPU=1 CIPHERPROOF_TESTDATA="$PWD/testdata/models" \
    try "$t" --nocapture --test-threads 1 >> "$out/tests.txt" 2>&1
  log "$(basename "$t"): $(grep -E '^test result' "$out/tests.txt" | tail -1)"
done
# 5. The gateway proving on the GPU.
try scripts/gateway-proof-check.sh "$bin" "$out/gateway.txt" cuda
log "gateway on the GPU: $(grep 'proofs_total' "$out/gateway.txt" | tr '\n' ' ')"
exit $failed
