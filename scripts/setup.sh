#!/usr/bin/env bash
# Create .venv and install Polytope Lens into it (editable).
#   bash scripts/setup.sh          the app (with the networks extra: opening ONNX and safetensors files)
#   bash scripts/setup.sh --test   the app and everything the tests need (Python side; the ray extra too)
# PyTorch: the CPU build. Where the machine keeps a local wheel folder (/opt/wheels),
# pip takes torch from there; a plain `pip install torch` could pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
extras="[networks]"
[[ "${1:-}" == "--test" ]] && extras="[test,ray,networks]"

if [[ ! -x .venv/bin/python ]]; then
    "$PYTHON" -m venv .venv
fi
pip_install() { .venv/bin/python -m pip install --quiet --disable-pip-version-check "$@"; }

find_links=()
[[ -d /opt/wheels ]] && find_links=(--find-links /opt/wheels)
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    echo "setup: installing torch==$TORCH_VERSION (CPU build where available)"
    pip_install "${find_links[@]}" "torch==$TORCH_VERSION"
fi
echo "setup: installing polytope-lens$extras"
pip_install "${find_links[@]}" -e ".$extras"
echo "setup: done (.venv/bin/polytope-lens)"
