#!/usr/bin/env bash
# install-deps.sh — installs the Debian 12 (bookworm) packages Prism needs to build and test; idempotent.
#
# Usage: bash scripts/install-deps.sh [--check] [--list]
#   (no option)  install every missing package (as root, or through sudo)
#   --check      only report missing packages; exit 1 when any is missing
#   --list       print the package list and exit
#
# A second run with everything installed does nothing: no apt-get update, no
# network, no root needed. `apt-get update` runs at most once per call, and
# only when a package is missing and the package lists are absent, older than
# a day, or do not know one of the packages.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# One package per line, grouped by what needs it.
PACKAGES=(
  # toolchain and build
  build-essential cmake ninja-build pkg-config git python3
  # core and CPU backend (GNU libgomp comes with g++; no libomp is needed)
  libdnnl-dev libdlpack-dev nlohmann-json3-dev libboost-dev libboost-filesystem-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  # lint (scripts/test.sh, scripts/tidy.sh)
  clang-format clang-tidy shellcheck
  # checkpoints and data: gzip-compressed IDX files, the Fashion-MNIST data set
  zlib1g-dev dataset-fashion-mnist
  # PyTorch as the reference peer: safetensors interop tests in both directions,
  # regenerating golden fixtures, bench/train_vs_pytorch and bench/contention (system
  # /usr/bin/python3); libopenblas0 first, so torch's BLAS is OpenBLAS, not the reference one
  libopenblas0 python3-torch python3-numpy
  # the Python package (python/): venv with pip, headers for the nanobind extension
  python3-venv python3-dev
  # OpenCL backend: headers, ICD loader, PoCL as a CPU device, CLBlast for GEMM
  ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo libclblast-dev
  # ROCm backend: Debian's HIP compiler and runtime (the CUDA backend uses the NVIDIA
  # toolkit in /usr/local/cuda, which is not a Debian package)
  hipcc libamdhip64-dev
  # distributed: the Gloo and MPI communicator plugins, mpirun for the MPI tests, ip netns for
  # the two-host test
  libgloo-dev libopenmpi-dev openmpi-bin iproute2
  # rocm-on-cpu (scripts/test.sh): HIP-CPU runs on libstdc++'s parallel algorithms over TBB
  libtbb-dev
)

log() { printf 'install-deps: %s\n' "$*"; }
die() { printf 'install-deps: error: %s\n' "$*" >&2; exit 1; }

# Note [Python environment]
# The Python package is built and tested in .venv (repository root), made with
# --system-site-packages so Debian's torch 1.13 and numpy 1.24 stay visible for
# the interop tests; pip adds only the build and test tools (never numpy: a
# newer numpy breaks Debian's torch). A second run finds them and uses no network.
VENV_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.venv"
PIP_PACKAGES=(nanobind scikit-build-core pytest 'hypothesis>=6.151' ndindex pytest-json-report)
venv_ready() {
  [[ -x "$VENV_DIR/bin/python" ]] || return 1
  "$VENV_DIR/bin/python" - <<'PY' 2>/dev/null
import importlib.metadata as md
import nanobind, scikit_build_core, pytest, hypothesis, ndindex, pytest_jsonreport  # noqa: F401
major, minor = (int(x) for x in md.version("hypothesis").split(".")[:2])
assert (major, minor) >= (6, 151)
PY
}
setup_venv() {
  if venv_ready; then
    log ".venv has ${PIP_PACKAGES[*]}"
    return 0
  fi
  [[ "$mode" == check ]] && { log "missing: .venv with ${PIP_PACKAGES[*]}"; return 1; }
  local py=/usr/bin/python3
  [[ -x "$py" ]] || py=$(command -v python3)
  if [[ ! -x "$VENV_DIR/bin/python" ]]; then
    log "python3 -m venv --system-site-packages .venv"
    "$py" -m venv --system-site-packages "$VENV_DIR" || die "could not create $VENV_DIR (is python3-venv installed?)"
  fi
  log "pip install ${PIP_PACKAGES[*]}"
  "$VENV_DIR/bin/python" -m pip install -q --disable-pip-version-check "${PIP_PACKAGES[@]}" || die "pip install failed"
  venv_ready || die ".venv still lacks one of: ${PIP_PACKAGES[*]}"
}

mode=install
for arg in "$@"; do
  case "$arg" in
    --check) mode=check ;;
    --list) printf '%s\n' "${PACKAGES[@]}"; exit 0 ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$arg' (try --help)" ;;
  esac
done

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  die "this script needs a Debian-based system (dpkg-query and apt-get not found)"
fi
if [[ -r /etc/os-release ]]; then
  # shellcheck disable=SC1091
  codename=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
  if [[ "$codename" != "bookworm" ]]; then
    log "warning: written for Debian 12 (bookworm), this is '${codename:-unknown}'; trying anyway"
  fi
fi

# True when the package is installed (dpkg status "installed" for some architecture).
is_installed() {
  local status
  status=$(dpkg-query -W -f='${db:Status-Status}\n' "$1" 2>/dev/null) || return 1
  grep -qx 'installed' <<<"$status"
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  is_installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  log "all ${#PACKAGES[@]} packages are installed"
  setup_venv
  exit $?
fi
log "missing: ${missing[*]}"
if [[ "$mode" == check ]]; then
  exit 1
fi

# Root, or sudo when present; otherwise stop with a clear message.
if [[ "$(id -u)" -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo env DEBIAN_FRONTEND=noninteractive)
else
  die "installing packages needs root: run this script as root (sudo is not installed), or install: ${missing[*]}"
fi

updated=0
apt_update() {
  if ((updated == 0)); then
    log "apt-get update"
    "${as_root[@]}" apt-get update -q
    updated=1
  fi
}

# True when the package lists exist and were refreshed within the last day.
lists_fresh() {
  local lists=/var/lib/apt/lists
  compgen -G "$lists/*_Packages*" >/dev/null || return 1
  [[ -n "$(find "$lists" -maxdepth 1 -name '*_Packages*' -mmin -1440 -print -quit)" ]]
}

# Packages in `missing` that apt-cache knows no installable version of.
unknown_packages() {
  local pkg candidate
  for pkg in "${missing[@]}"; do
    candidate=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2; exit}')
    if [[ -z "$candidate" || "$candidate" == "(none)" ]]; then
      printf '%s\n' "$pkg"
    fi
  done
}

lists_fresh || apt_update
unknown=$(unknown_packages)
if [[ -n "$unknown" && "$updated" -eq 0 ]]; then
  apt_update
  unknown=$(unknown_packages)
fi
if [[ -n "$unknown" ]]; then
  die "no installable version of: $(tr '\n' ' ' <<<"$unknown")(check the apt sources: these are in bookworm main)"
fi

install_missing() {
  "${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
}
log "apt-get install ${missing[*]}"
if ! install_missing; then
  # Stale lists make apt fetch files that no longer exist: refresh once and retry.
  ((updated == 0)) || die "apt-get install failed"
  apt_update
  install_missing || die "apt-get install failed"
fi

still=()
for pkg in "${missing[@]}"; do
  is_installed "$pkg" || still+=("$pkg")
done
((${#still[@]} == 0)) || die "still not installed: ${still[*]}"
log "installed ${#missing[@]} package(s); all ${#PACKAGES[@]} present"
setup_venv
