#!/usr/bin/env bash
# Set everything up, then run the full pipeline on the built-in example
# (a generated narrated video served on 127.0.0.1; no network needed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/mediaproc demo "$@"
