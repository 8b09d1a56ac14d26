#!/usr/bin/env bash
# The whole test suite: set up, then lint, type-check and run every test (integration included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup-system.sh
export HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 GRADIO_ANALYTICS_ENABLED=False
.venv/bin/ruff check bot tests
.venv/bin/ruff format --check bot tests
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
