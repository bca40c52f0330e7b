#!/usr/bin/env bash
# Installs (once) a CUDA 13.0 toolkit good enough to BUILD the `cuda` feature
# (halo2-axiom-gpu's kernels, compiled by nvcc) on a machine without a GPU or a
# system CUDA: NVIDIA's pinned wheels from PyPI (nvcc, crt, nvvm, runtime, cccl)
# unpacked into one folder, plus a link-time stub of the driver library
# (libcuda.so, built from cuda.h's declarations; the real driver is used at run
# time). Prints the folder; put its bin/ on PATH and set CUDA_PATH to it:
#   tk=$(scripts/cuda-toolkit.sh); PATH=$tk/bin:$PATH CUDA_PATH=$tk CUDA_ARCH=90 \
#     LIBRARY_PATH=$tk/lib:$tk/lib/stubs cargo build --release -p cipherproof-gateway --features cuda
# (LIBRARY_PATH, not RUSTFLAGS, so the other crates' build cache stays valid.)
# A machine with a CUDA toolkit (nvcc on PATH) does not need this.
set -euo pipefail
dest=${CIPHERPROOF_CUDA_TOOLKIT:-${XDG_CACHE_HOME:-$HOME/.cache}/cipherproof-cuda-13.0}
pins=(nvidia-cuda-nvcc==13.0.88 nvidia-cuda-crt==13.0.88 nvidia-nvvm==13.0.88
      nvidia-cuda-runtime==13.0.96 nvidia-cuda-cccl==13.0.85)
if [ "$(cat "$dest/.pins" 2>/dev/null)" != "${pins[*]}" ]; then
  echo "installing a CUDA 13.0 build toolkit from PyPI into $dest" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --disable-pip-version-check --no-deps \
    --only-binary=:all: --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux_2_12_x86_64 -d "$tmp/wheels" "${pins[@]}" >&2
  for w in "$tmp"/wheels/*.whl; do python3 -m zipfile -e "$w" "$tmp/x" >&2; done
  rm -rf "$dest" && mkdir -p "$dest"
  cp -a "$tmp/x/nvidia/cu13/." "$dest/"
  chmod +x "$dest"/bin/* "$dest"/nvvm/bin/* 2>/dev/null || true
  ln -sf libcudart.so.13 "$dest/lib/libcudart.so"
  # Link-time stub of libcuda.so.1: every driver entry point cuda.h declares
  # (after its _v2 renames), as empty functions. Never loaded at run time.
  mkdir -p "$dest/lib/stubs"
  gcc -E -I"$dest/include" "$dest/include/cuda.h" \
    | grep -oE '\bcu[A-Z][A-Za-z0-9_]*[[:space:]]*\(' | tr -d ' (' | sort -u \
    | sed 's/.*/void &(void) {}/' > "$tmp/stub.c"
  gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$dest/lib/stubs/libcuda.so" "$tmp/stub.c"
  echo "${pins[*]}" > "$dest/.pins"
fi
echo "$dest"
