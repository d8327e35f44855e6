#!/usr/bin/env bash
# Set everything up, then run the whole test suite (pass pytest args to narrow it,
# e.g. `scripts/test.sh -m "not slow"` for the quick subset).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The report is tested in a real headless browser: Debian's chromium (Playwright drives it;
# it never downloads a browser of its own).
if ! command -v chromium >/dev/null 2>&1; then
    echo "test: installing chromium for the report tests"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
exec .venv/bin/python -m pytest "$@"
