#!/usr/bin/env bash
# Installs liqenv with what the README's two commands need: the environment
# core, the training stack ([train]: SB3, sb3-contrib, torch, matplotlib,
# progress bars) and the test tools ([dev]).  A bare `torch` requirement would
# pull a multi-GB CUDA build, so when no torch is present we first install the
# CPU wheel torch==2.13.0; the project's `torch>=2.3` range then installs nothing more.
# The environment alone needs none of this: `pip install -e .`.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
    "$PY" -m pip install --quiet "torch==2.13.0"
fi
"$PY" -m pip install --quiet --disable-pip-version-check -e ".[train,dev]"
