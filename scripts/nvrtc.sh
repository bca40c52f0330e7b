#!/usr/bin/env bash
# Installs (once) NVIDIA's NVRTC runtime compiler from PyPI (pinned wheel, no
# GPU or CUDA toolkit needed) into .venv-nvrtc and prints its library directory.
# The tests put it on LD_LIBRARY_PATH so that the CUDA kernels' NVRTC
# compilation is checked on machines without a GPU, CI included.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv-nvrtc"
pin="nvidia-cuda-nvrtc-cu12==12.8.93"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.pin" 2>/dev/null)" != "$pin" ]; then
  echo "installing NVRTC ($pin) into .venv-nvrtc" >&2
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$pin" >&2
  echo "$pin" > "$venv/.pin"
fi
lib=$("$venv/bin/python" -c 'import nvidia.cuda_nvrtc, os; print(os.path.join(list(nvidia.cuda_nvrtc.__path__)[0], "lib"))')
# cudarc opens libnvrtc.so.12; the wheel ships it under that name.
echo "$lib"
