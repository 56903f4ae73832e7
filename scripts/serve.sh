#!/usr/bin/env bash
# Set up (first run) and start Satwa on its defaults: SQLite and evidence under ./var,
# the bundled model in weights/. Settings come from SATWA_* environment variables.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-venv.sh
exec .venv/bin/satwa serve  # migrates the database first
