"""Prove a llama-cpp-python build on this machine: one real generation in a child process.

A build that compiles is not yet a build that runs: on a CPU that advertises AMX but whose
environment does not grant the tile state, a native build segfaults at its first matrix product
(`ldtilecfg` in `ggml_backend_amx_mul_mat`). `scripts/setup.sh` runs
`python -m bot.models.llm_prove MODEL.gguf --out proof.json` after installing a build, and tries the
next build (AMX off, then portable) when this says it died. The child also measures prompt
evaluation and generation speed, so the builds tried can be compared.

Prints one JSON line: {"ok": true, "prompt_tokens", "prompt_tok_s", "gen_tokens", "gen_tok_s",
"system_info"} or {"ok": false, "why"}; exits 0 when the build works, else 1.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bot.models.llm_worker import describe_exit

# About 300 tokens of Chinese prose, the size of a typical answer prompt here.
_PROMPT = "科技创新是推动高质量发展的关键力量。" * 24 + "请用一句话总结上文："


def _child(model: str, threads: int) -> dict[str, Any]:
    from llama_cpp import Llama, llama_print_system_info

    llm = Llama(model_path=model, n_ctx=1024, n_threads=threads, n_threads_batch=threads, verbose=False)
    llm.eval(llm.tokenize("预热".encode()))  # the first product repacks weights: not prompt speed
    llm.reset()
    tokens = llm.tokenize(_PROMPT.encode())
    t0 = time.perf_counter()
    llm.eval(tokens)
    prompt_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    out: Any = llm.create_completion(_PROMPT, max_tokens=8, temperature=0.0)
    gen_s = time.perf_counter() - t1
    gen = int(out["usage"]["completion_tokens"])
    info = llama_print_system_info()
    return {
        "ok": True,
        "prompt_tokens": len(tokens),
        "prompt_tok_s": round(len(tokens) / prompt_s, 1),
        "gen_tokens": gen,
        "gen_tok_s": round(gen / gen_s, 1) if gen else 0.0,
        "system_info": info.decode() if isinstance(info, bytes) else str(info),
    }


def prove(model: Path, threads: int = 2, timeout_s: float = 600.0, python: str = sys.executable) -> dict[str, Any]:
    """Run the proof in a child process; a death by signal there is a verdict here."""
    argv = [python, "-m", "bot.models.llm_prove", "--child", str(model), "--threads", str(threads)]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"ok": False, "why": f"no generation within {timeout_s:g} s"}
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [""])[-1][:300]
        why = f"the generation died ({describe_exit(proc.returncode)})"
        return {"ok": False, "why": f"{why}: {last}" if last else why}
    try:
        return dict(json.loads(proc.stdout.strip().splitlines()[-1]))
    except (ValueError, IndexError):
        return {"ok": False, "why": f"no result from the proof: {proc.stdout[-300:]!r}"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bot.models.llm_prove", description=__doc__.splitlines()[0])
    p.add_argument("model", type=Path, help="the GGUF to generate with")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, help="also write the result here")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(_child(str(args.model), args.threads), ensure_ascii=False), flush=True)
        return 0
    if not args.model.exists():
        result: dict[str, Any] = {"ok": False, "why": f"no model at {args.model}"}
    else:
        result = prove(args.model, args.threads)
    line = json.dumps(result, ensure_ascii=False)
    if args.out:
        args.out.write_text(line + "\n", encoding="utf-8")
    print(line)
    return 0 if result.get("ok") else 1


if __name__ == "__main__":
    raise SystemExit(main())
