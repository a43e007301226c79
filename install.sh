#!/usr/bin/env bash
# Installs liqenv with its test extras.  A bare `torch` requirement would pull
# a multi-GB CUDA build, so when no torch is present we first install the CPU
# wheel torch==2.13.0; the project's `torch>=2.3` range then installs nothing more.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
    "$PY" -m pip install --quiet "torch==2.13.0"
fi
"$PY" -m pip install --quiet --disable-pip-version-check -e ".[dev]"
