#!/bin/sh
# run_interop.sh — one direction of the safetensors interop test between Prism and PyTorch.
# Usage: run_interop.sh prism-to-torch|torch-to-prism TOOL PYTHON FIXTURE_SCRIPT WORKDIR
# Exits 77 (reported as skipped by ctest) when PYTHON or its torch is missing.
set -eu
direction=$1 tool=$2 python=$3 script=$4 dir=$5
if [ ! -x "$python" ]; then
  echo "skipped: $python not found (the interop test needs Debian's python3 with python3-torch)"
  exit 77
fi
if ! "$python" -c "import torch" >/dev/null 2>&1; then
  echo "skipped: torch is not importable with $python (apt-get install python3-torch)"
  exit 77
fi
mkdir -p "$dir"
case "$direction" in
  prism-to-torch)
    "$tool" write "$dir/prism_written.safetensors"
    "$python" "$script" check "$dir/prism_written.safetensors"
    ;;
  torch-to-prism)
    "$python" "$script" write "$dir/torch_written.safetensors"
    "$tool" check "$dir/torch_written.safetensors"
    ;;
  *)
    echo "run_interop.sh: unknown direction '$direction'" >&2
    exit 2
    ;;
esac
