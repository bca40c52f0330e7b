#!/usr/bin/env bash
# Builds, on a machine without a GPU, what the GPU machine runs (docs/GPU.md):
# the release `cipherproof` with the CUDA prover (`--features cuda`), and the
# release test binaries of cipherproof-cuda (witness kernels) and
# cipherproof-prover (its GPU proving test), stripped and xz-compressed into
# gpu-bin/ with the CUDA runtime library they link. The GPU machine has no
# crate registry and its device time is short, so nothing is built there:
#   device run, carry ["gpu-bin"]:  scripts/gpu-check.sh   (it unpacks gpu-bin/)
set -euo pipefail
cd "$(dirname "$0")/.."
tk=$(scripts/cuda-toolkit.sh)
if command -v nvcc >/dev/null; then tk_env=(); else
  tk_env=(PATH="$tk/bin:$PATH" CUDA_PATH="$tk" LIBRARY_PATH="$tk/lib:$tk/lib/stubs")
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
cp "$tk/lib/libcudart.so.13" gpu-bin/
xz -T0 -6 gpu-bin/cipherproof gpu-bin/test-*
ls -la gpu-bin
