#!/usr/bin/env bash
# The one install path, shared by the Makefile, CI and the Dockerfile.
# torch is installed first, pinned to the CPU build: a bare or open-ended torch requirement would pull
# several GB of CUDA wheels.
set -euo pipefail
VENV="${1:-.venv}"
PYTHON="${PYTHON:-python3}"
EXTRAS="${EXTRAS:-test}"
# Every other package at the version the tests last passed with (constraints.txt, written by `make lock`);
# CONSTRAINTS= (empty) installs the newest versions the index offers instead, as `make lock` does.
CONSTRAINTS="${CONSTRAINTS-constraints.txt}"
PINS=()
if [ -n "$CONSTRAINTS" ]; then
  [ -f "$CONSTRAINTS" ] || { echo "install.sh: no $CONSTRAINTS (run make lock, or set CONSTRAINTS= )" >&2; exit 2; }
  PINS=(-c "$CONSTRAINTS")
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
# Where the CPU build comes from, first match wins:
#   TORCH_WHEELS     a directory holding torch-2.13.0+cpu-*.whl (an image built where only PyPI is reachable:
#                    the exact +cpu version exists nowhere else, so PyPI's CUDA build cannot be picked);
#   TORCH_INDEX_URL  an index (the Dockerfile's default is https://download.pytorch.org/whl/cpu);
#   neither          pip's own configuration (a local wheel directory on the build machines).
if [ -n "${TORCH_WHEELS:-}" ]; then
  "$VENV/bin/python" -m pip install -q --find-links "$TORCH_WHEELS" "torch==2.13.0+cpu"
elif [ -n "${TORCH_INDEX_URL:-}" ]; then
  "$VENV/bin/python" -m pip install -q --index-url "$TORCH_INDEX_URL" "torch==2.13.0"
else
  "$VENV/bin/python" -m pip install -q "torch==2.13.0"
fi
if [ -n "$EXTRAS" ]; then
  "$VENV/bin/python" -m pip install -q ${PINS[@]+"${PINS[@]}"} -e ".[$EXTRAS]"
else
  "$VENV/bin/python" -m pip install -q ${PINS[@]+"${PINS[@]}"} -e .
fi
