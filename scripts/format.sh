#!/usr/bin/env bash
# format.sh — formats the project's C/C++ sources with .clang-format (or, with --check, lists the files that differ).
#
# Usage: bash scripts/format.sh [--check] [FILE...]
#   (no option)  rewrite the files in place
#   --check      change nothing; print each file that differs and the first
#                violations, exit 1 when any file differs
#   FILE...      only these files (default: every source under the project's source directories)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
SOURCE_DIRS=(api core backends plugins comm tests conformance examples bench)

check=0
files=()
for arg in "$@"; do
  case "$arg" in
    --check) check=1 ;;
    -h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) printf 'format.sh: unknown option %s (try --help)\n' "$arg" >&2; exit 2 ;;
    *) files+=("$arg") ;;
  esac
done

command -v clang-format >/dev/null 2>&1 ||
  { echo "format.sh: clang-format not found (bash scripts/install-deps.sh)" >&2; exit 2; }

if ((${#files[@]} == 0)); then
  dirs=()
  for d in "${SOURCE_DIRS[@]}"; do [[ -d "$d" ]] && dirs+=("$d"); done
  ((${#dirs[@]} > 0)) || { echo "format.sh: no source directories found" >&2; exit 1; }
  mapfile -t files < <(find "${dirs[@]}" -type f \( -name '*.c' -o -name '*.h' -o -name '*.cc' \
    -o -name '*.cpp' -o -name '*.hpp' -o -name '*.cu' -o -name '*.cuh' -o -name '*.hip' \) | sort)
fi
((${#files[@]} > 0)) || { echo "format.sh: no sources found" >&2; exit 1; }

version=$(clang-format --version | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n 1)
if ((check == 0)); then
  clang-format -i --style=file "${files[@]}"
  echo "formatted ${#files[@]} files (clang-format $version)"
  exit 0
fi

bad=()
for f in "${files[@]}"; do
  clang-format --dry-run -Werror --style=file "$f" >/dev/null 2>&1 || bad+=("$f")
done
if ((${#bad[@]} == 0)); then
  echo "clang-format $version: all ${#files[@]} files formatted"
  exit 0
fi
printf 'needs formatting: %s\n' "${bad[@]}"
echo "first violations:"
clang-format --dry-run -Werror --style=file "${bad[@]}" 2>&1 | head -n 30 || true
echo "clang-format $version: ${#bad[@]} of ${#files[@]} files differ; fix with: bash scripts/format.sh"
exit 1
