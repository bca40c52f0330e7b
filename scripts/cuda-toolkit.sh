#!/usr/bin/env bash
# Installs (once) a CUDA 13.0 toolkit good enough to BUILD the `cuda` feature
# (halo2-axiom-gpu's kernels, compiled by nvcc) on a machine without a GPU or a
# system CUDA: NVIDIA's pinned wheels from PyPI (nvcc, crt, nvvm, runtime, cccl)
# unpacked into one folder. Its link/lib/ holds what `-lcudart` and `-lcuda`
# link instead of the shared libraries: the static CUDA runtime (which opens
# the driver itself when first used) and scripts/cuda-driver-loader.c (the
# driver functions the build calls directly, resolved at their first call).
# So the binary starts on machines without an NVIDIA driver, and proves on the
# CPU there. Prints the folder; put its bin/ on PATH and set CUDA_PATH to it:
#   tk=$(scripts/cuda-toolkit.sh); PATH=$tk/bin:$PATH CUDA_PATH=$tk CUDA_ARCH=90 \
#     LIBRARY_PATH=$tk/link/lib cargo build --release -p cipherproof-gateway --features cuda
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
  echo "${pins[*]}" > "$dest/.pins"
fi
# link/lib/: rebuilt on every call (one small C file), so a change to the
# loader reaches the next build. Linker scripts named libcudart.so and
# libcuda.so, found first through LIBRARY_PATH, pull in the static archives;
# libcudart_static.a (which cc-rs's CUDA builds name) is linked beside them.
# Not under lib/: gcc also searches LIBRARY_PATH's `DIR/../lib`, which must
# not reach a shared libcudart.so (the wheel has none; a toolkit made by an
# earlier version of this script linked one there).
link=$dest/link/lib
rm -rf "$dest/link" && mkdir -p "$link"
src=$(cd "$(dirname "$0")" && pwd)/cuda-driver-loader.c
gcc -std=c11 -O2 -fPIC -Wall -Wextra -Werror -I"$dest/include" -c "$src" -o "$link/driver_loader.o"
ar rcs "$link/libcuda_driver_loader.a" "$link/driver_loader.o"
ln -s "$dest/lib/libcudart_static.a" "$link/libcudart_static.a"
echo "INPUT($link/libcuda_driver_loader.a -ldl)" > "$link/libcuda.so"
echo "INPUT($link/libcudart_static.a -ldl -lrt -lpthread)" > "$link/libcudart.so"
# The loader, linked as the build links it, answers as it should on this machine.
gcc -std=c11 -Wall -Werror -I"$dest/include" "$(dirname "$src")/cuda-driver-loader-check.c" \
  -L"$link" -lcuda -o "$link/loader-check"
"$link/loader-check"
echo "$dest"
