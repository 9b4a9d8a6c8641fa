#!/usr/bin/env bash
# train_vs_pytorch.sh — trains the same model (MLP or demo CNN) on Fashion-MNIST in Prism and in PyTorch
# (python3-torch), same weights, data order, hyper-parameters and thread count, and prints time per epoch,
# their ratio and both accuracies.
#
# Usage: bash bench/train_vs_pytorch/train_vs_pytorch.sh [--build-dir DIR] [--threads "N ..."] [--epochs N]
#          [--device NAME] [--model mlp|cnn] [--steps N] [--profile TRACE.json]
#   --build-dir  a configured and built Prism build (default: build/release; built here when missing)
#   --threads    OpenMP / torch threads for both sides (default 1: PyTorch's best count on this machine);
#                several counts ("1 2") run both sides at each and compare each at its best count
#   --epochs     epochs (default 2)
#   --device     Prism device (default cpu)
#   --model      mlp (default) or cnn
#   --steps      stop each epoch after N batches (default 0: whole epochs)
#   --profile    also write a Chrome trace of Prism steps 10..14 (op profiler) there
# Needs Debian's python3-torch (/usr/bin/python3) and dataset-fashion-mnist.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$root/build/release
threads=1
epochs=2
device=cpu
model=mlp
steps=0
trace=
python=${PRISM_BENCH_PYTHON:-/usr/bin/python3}
while (($#)); do
  case "$1" in
    --build-dir) build=$2; shift ;;
    --threads) threads=$2; shift ;;
    --epochs) epochs=$2; shift ;;
    --device) device=$2; shift ;;
    --model) model=$2; shift ;;
    --steps) steps=$2; shift ;;
    --profile) trace=$2; shift ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "train_vs_pytorch.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
"$python" -c "import torch" 2>/dev/null || { echo "train_vs_pytorch.sh: $python cannot import torch (apt-get install python3-torch)" >&2; exit 2; }
if [[ ! -x "$build/bin/train_vs_pytorch" ]]; then
  [[ -f "$build/CMakeCache.txt" ]] || cmake --preset release -DPRISM_BUILD_BENCH=ON
  cmake --build "$build" --target train_vs_pytorch prism-cpu
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck source=bench/openblas_core.sh
source "$root/bench/openblas_core.sh"
set_openblas_core "$python"
script=$root/bench/train_vs_pytorch/train_vs_pytorch.py
"$python" "$script" prepare "$work" --epochs "$epochs" --model "$model"
dirs=()
for t in $threads; do
  export OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t MKL_NUM_THREADS=$t
  mkdir -p "$work/t$t"
  cp "$work/init.safetensors" "$work/order.safetensors" "$work/t$t/"
  # Both sides run one after the other in the same script, on the same data.
  "$python" "$script" train "$work/t$t" --epochs "$epochs" --threads "$t" --model "$model" --steps "$steps"
  prof=()
  if [[ -n "$trace" ]]; then prof=(--profile "${trace%.json}.t$t.json"); fi
  "$build/bin/train_vs_pytorch" "$work/t$t" --epochs "$epochs" --device "$device" --model "$model" \
    --steps "$steps" "${prof[@]}"
  dirs+=("$work/t$t")
done
"$python" "$root/bench/train_vs_pytorch/compare.py" "${dirs[@]}"
