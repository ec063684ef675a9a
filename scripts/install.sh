#!/usr/bin/env bash
# The one install path, shared by the Makefile, CI and the Dockerfile.
# torch is installed first, pinned to the CPU build: a bare or open-ended torch requirement would pull
# several GB of CUDA wheels.
set -euo pipefail
VENV="${1:-.venv}"
PYTHON="${PYTHON:-python3}"
EXTRAS="${EXTRAS:-test}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
# TORCH_INDEX_URL (the Dockerfile sets https://download.pytorch.org/whl/cpu) picks where the CPU build comes
# from; unset, pip's own configuration decides (a local wheel directory on the build machines).
if [ -n "${TORCH_INDEX_URL:-}" ]; then
  "$VENV/bin/python" -m pip install -q --index-url "$TORCH_INDEX_URL" "torch==2.13.0"
else
  "$VENV/bin/python" -m pip install -q "torch==2.13.0"
fi
if [ -n "$EXTRAS" ]; then
  "$VENV/bin/python" -m pip install -q -e ".[$EXTRAS]"
else
  "$VENV/bin/python" -m pip install -q -e .
fi
