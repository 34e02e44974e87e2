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

# The charts need only plotly's "basic" bundle (a quarter of the full one's load time per page):
# fetched from the npm registry into frontend/vendor/ (git-ignored). Without npm the page loads the
# full bundle of the plotly package instead (web/routers/pages.py).
PLOTLY_BASIC="plotly.js-basic-dist-min@4.1.1"
if [[ ! -f frontend/vendor/plotly-basic.min.js ]]; then
    if command -v npm >/dev/null 2>&1 && tmp="$(mktemp -d)" \
        && (cd "$tmp" && npm pack --silent "$PLOTLY_BASIC" >/dev/null 2>&1 && tar xzf ./*.tgz) \
        && [[ -f "$tmp/package/plotly-basic.min.js" ]]; then
        mkdir -p frontend/vendor
        cp "$tmp/package/plotly-basic.min.js" frontend/vendor/
        cp "$tmp/package/LICENSE" frontend/vendor/plotly-basic.LICENSE
        echo "setup: fetched $PLOTLY_BASIC for the charts"
    else
        echo "setup: could not fetch $PLOTLY_BASIC with npm; the page loads plotly's full bundle"
    fi
    if [[ -n "${tmp:-}" ]]; then rm -rf "$tmp"; fi
fi
echo "setup: done (.venv/bin/polytope-lens)"
