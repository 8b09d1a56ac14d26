#!/usr/bin/env bash
# Known vulnerabilities in every locked dependency. pip-audit needs PyPI's JSON API (or OSV);
# on a machine that reaches only the package index it reports every package as "not found".
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/pip-audit -r requirements.lock --no-deps --progress-spinner off "$@"
