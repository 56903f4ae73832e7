#!/usr/bin/env bash
# Create .venv (Python 3.11) and install Satwa with its test tools, once per change of
# pyproject.toml. torch/torchvision come from the wheels pip is configured to find.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${SATWA_PYTHON:-python3.11}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
stamp=.venv/.satwa-installed
wanted=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  .venv/bin/pip install --quiet -e '.[dev]'
  echo "$wanted" > "$stamp"
fi
