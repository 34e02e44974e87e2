#!/usr/bin/env bash
# Set up (first run only takes long) and start the web app on http://127.0.0.1:8000
# Extra arguments go to `polytope-lens serve`, e.g. --port 9000 or --host 0.0.0.0
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/polytope-lens serve "$@"
