#!/usr/bin/env bash
# Set up everything the tests need on a fresh Debian machine and run all tests.
# Extra arguments go to pytest, e.g. -k websocket or -m "not browser"; -n 0 runs in one process.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test

# Browser tests drive Debian's Chromium through Playwright (no browser download).
if ! command -v chromium >/dev/null 2>&1; then
    SUDO=""
    [[ "$(id -u)" != 0 ]] && SUDO="sudo"
    echo "test: installing Chromium from Debian's packages"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        chromium fonts-dejavu-core >/dev/null
fi

# Two pytest-xdist workers, one test file each at a time: a file's module fixtures (a server,
# a browser) stay in one worker; tests/conftest.py hands out the longest file first and the Ray
# files to one worker together. Arguments given later win (-n 0, --dist load).
exec .venv/bin/python -m pytest -n 2 --dist loadfile "$@"
