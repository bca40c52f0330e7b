#!/usr/bin/env bash
# The gateway's proof workers end to end on one backend: `cipherproof serve
# --backend B`, digits_mlp registered through the client, three proven
# inferences waited for (each proof verified by the worker before it is
# stored), and /metrics counting all three under that engine. Step 5 of
# scripts/gpu-check.sh runs it with B=cuda; here it runs with B=cpu.
#   scripts/gateway-proof-check.sh BIN OUT_FILE [BACKEND]
set -uo pipefail
cd "$(dirname "$0")/.."
bin=$1 out=$2 backend=${3:-cuda}
work=$(mktemp -d)
pid=
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port) metrics=$(free_port)
addr=http://127.0.0.1:$port
"$bin" serve --backend "$backend" --listen 127.0.0.1:$port --metrics 127.0.0.1:$metrics \
  --data "$work/data" > "$work/serve.out" 2>> "$out" &
pid=$!
for _ in $(seq 120); do grep -q "listening on" "$work/serve.out" 2>/dev/null && break; sleep 0.5; done
grep "listening on" "$work/serve.out" >> "$out" || { echo "serve --backend $backend did not start" >> "$out"; exit 1; }
m=testdata/models/digits_mlp
"$bin" client register --addr "$addr" --model $m/model.onnx --name digits --calibration $m/calibration.json \
  >> "$out" || exit 1
python3 -c 'import json,sys; x=json.load(open(sys.argv[1]))["inputs"][0]; json.dump({"input_data":[x]}, open(sys.argv[2],"w"))' \
  $m/test.json "$work/input.json"
for _ in 1 2 3; do
  "$bin" client infer --addr "$addr" --model digits --input "$work/input.json" --prove --wait \
    --proof-out "$work/proof.json" >> "$out" || exit 1
done
python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())' \
  "http://127.0.0.1:$metrics/metrics" | grep -E '^cipherproof_proofs_total|^cipherproof_proof_seconds_(sum|count)' \
  | tee -a "$out"
grep -q "cipherproof_proofs_total{engine=\"$backend\"} 3" "$out"
