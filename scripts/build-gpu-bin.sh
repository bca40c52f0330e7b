#!/usr/bin/env bash
# Builds, on a machine without a GPU, what the GPU machine runs (docs/GPU.md):
# the release `cipherproof` with the CUDA prover (`--features cuda`), and the
# release test binaries of cipherproof-cuda (witness kernels) and
# cipherproof-prover (its GPU proving test), stripped and xz-compressed into
# gpu-bin/. They link the CUDA runtime statically and open the driver when
# first used (scripts/cuda-toolkit.sh), so they also start, and prove on the
# CPU, where no NVIDIA driver is installed. The GPU machine has no
# crate registry and its device time is short, so nothing is built there:
#   device run, carry ["gpu-bin"]:  scripts/gpu-check.sh   (it unpacks gpu-bin/)
set -euo pipefail
cd "$(dirname "$0")/.."
tk=$(scripts/cuda-toolkit.sh)
if command -v nvcc >/dev/null; then tk_env=(); else
  tk_env=(PATH="$tk/bin:$PATH" CUDA_PATH="$tk" LIBRARY_PATH="$tk/link/lib")
fi
export CUDA_ARCH=${CUDA_ARCH:-90}
target=${CARGO_TARGET_DIR:-target}
env "${tk_env[@]}" cargo build --release -p cipherproof-gateway --features cuda
tests=$(env "${tk_env[@]}" cargo test --release -p cipherproof-prover -p cipherproof-cuda \
  --features cipherproof-prover/cuda --no-run --message-format=json \
  | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    t = m.get("target", {})
    if m.get("reason") == "compiler-artifact" and m.get("executable") and t.get("name") in ("gpu_prove", "witness"):
        print(t["name"], m["executable"])')
rm -rf gpu-bin && mkdir -p gpu-bin
strip -o gpu-bin/cipherproof "$target/release/cipherproof"
while read -r name exe; do strip -o "gpu-bin/test-$name" "$exe"; done <<< "$tests"
# Built with our toolkit, the binaries must start without a driver (checked
# here, where none is; a binary linked before this rule, which cargo does not
# relink on its own, is named with the fix).
if [ ${#tk_env[@]} -gt 0 ]; then
  for b in gpu-bin/*; do
    if ldd "$b" | grep -E 'libcuda\.so|libcudart\.so'; then
      echo "$b links the CUDA driver or runtime dynamically, so it would not start without a driver;" \
        "relink: touch gateway/src/main.rs prover/tests/gpu_prove.rs cuda/tests/witness.rs" >&2
      exit 1
    fi
  done
  gpu-bin/cipherproof gpu info
  # Where no driver is, `--backend auto` proves on the CPU, and the proof verifies.
  work=$(mktemp -d) && trap 'rm -rf "$work"' EXIT
  m=testdata/models/ezkl/1l_relu
  gpu-bin/cipherproof compile $m/network.onnx --out "$work/m" --calibration $m/input.json > /dev/null
  gpu-bin/cipherproof prove --model "$work/m" --input $m/input.json --out "$work/proof.json" --backend auto
  gpu-bin/cipherproof verify --model "$work/m" --proof "$work/proof.json"
fi
xz -T0 -6 gpu-bin/cipherproof gpu-bin/test-*
ls -la gpu-bin
