#!/usr/bin/env bash
# The main job: set up, build the index if missing (or fold in corpus edits), serve the page.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/qingshan-bot index
exec .venv/bin/qingshan-bot serve "$@"
