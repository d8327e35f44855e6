#!/usr/bin/env bash
# Set everything up, then run the whole test suite (pass pytest args to narrow it,
# e.g. `scripts/test.sh -m "not slow"` for the quick subset).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
