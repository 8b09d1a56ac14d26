"""A bounded load test on loopback: N concurrent clients for T seconds against `/api/ask`.

First every question once (so both phases see the same warm query cache), then an idle
baseline (one client, one request at a time), then the load, in one run on one machine, so the
report is a ratio and not an absolute time. 429 and 503 answers are counted
apart from failures and must carry Retry-After; anything else that is not a 200 (or a request
that errors or times out) is a failure.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path
from typing import Any

from bot.core.errors import UserError
from bot.devtools.bench_http import read_question_texts
from bot.devtools.screenshots import bot_server, free_port
from bot.evaluation.scoring import percentile


async def _client(
    http: Any, url: str, questions: list[str], stop_at: float, think_s: float, out: dict[str, Any], seed: int
) -> None:
    rng = random.Random(seed)
    while time.monotonic() < stop_at:
        q = rng.choice(questions)
        t0 = time.perf_counter()
        try:
            r = await http.post(url, json={"question": q})
            ms = (time.perf_counter() - t0) * 1000
            if r.status_code == 200:
                out["latencies"].append(ms)
            elif r.status_code in (429, 503) and r.headers.get("retry-after"):
                out["shed"][str(r.status_code)] = out["shed"].get(str(r.status_code), 0) + 1
                await asyncio.sleep(min(float(r.headers["retry-after"]), 5.0))
                continue
            else:
                out["failures"].append(f"{r.status_code}: {r.text[:200]}")
        except Exception as exc:  # timeouts, resets: failures, counted
            out["failures"].append(f"{exc.__class__.__name__}: {exc}")
        if think_s:
            await asyncio.sleep(rng.uniform(0.5, 1.5) * think_s)


async def _warm(url: str, questions: list[str]) -> None:
    import httpx

    async with httpx.AsyncClient(timeout=120.0) as http:
        for q in questions:
            await http.post(url, json={"question": q})


async def _probe(http: Any, url: str, questions: list[str], stop_at: float, out: dict[str, list[float]]) -> None:
    """While the LLM is busy: extractive answers and health checks must stay fast."""
    base = url.rsplit("/api/", 1)[0]
    i = 0
    while time.monotonic() < stop_at:
        t0 = time.perf_counter()
        r = await http.post(url, json={"question": questions[i % len(questions)], "mode": "extractive"})
        out["extractive" if r.status_code == 200 else "extractive_failed"].append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        r = await http.get(base + "/healthz")
        out["healthz" if r.status_code == 200 else "healthz_failed"].append((time.perf_counter() - t0) * 1000)
        i += 1
        await asyncio.sleep(0.5)


async def _phase(
    url: str, questions: list[str], clients: int, seconds: float, think_s: float, probe: bool = False
) -> dict[str, Any]:
    import httpx

    out: dict[str, Any] = {"latencies": [], "failures": [], "shed": {}}
    probes: dict[str, list[float]] = {"extractive": [], "healthz": [], "extractive_failed": [], "healthz_failed": []}
    limits = httpx.Limits(max_connections=clients + 5, max_keepalive_connections=clients + 5)
    async with httpx.AsyncClient(timeout=120.0, limits=limits) as http:
        t0 = time.monotonic()
        stop_at = t0 + seconds
        tasks = [_client(http, url, questions, stop_at, think_s, out, i) for i in range(clients)]
        if probe:
            tasks.append(_probe(http, url, questions, stop_at, probes))
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - t0
    lat = out["latencies"]
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "think_s": think_s,
        "ok": len(lat),
        "failed": len(out["failures"]),
        "shed_with_retry_after": out["shed"],
        "throughput_rps": round(len(lat) / elapsed, 2),
        "p50_ms": percentile(lat, 0.50),
        "p95_ms": percentile(lat, 0.95),
        "p99_ms": percentile(lat, 0.99),
        "failure_examples": out["failures"][:5],
        **(
            {
                "while_busy": {
                    name: {"n": len(v), "p50_ms": percentile(v, 0.5), "p95_ms": percentile(v, 0.95)}
                    for name, v in probes.items()
                }
            }
            if probe
            else {}
        ),
    }


def run_load(
    questions_file: Path,
    mode: str = "extractive",
    clients: int = 50,
    seconds: float = 60.0,
    think_s: float = 1.0,
    url: str | None = None,
) -> dict[str, Any]:
    questions = read_question_texts(questions_file, 1000)

    def measure(base: str) -> dict[str, Any]:
        target = base.rstrip("/") + "/api/ask"
        # Every question once first: both phases then see the same (warm) query cache. (Not for
        # LLM modes: generation, not the cache, sets their time, and 150 answers take minutes.)
        if mode == "extractive":
            asyncio.run(_warm(target, questions))
        idle = asyncio.run(_phase(target, questions, 1, min(20.0, seconds / 2), 0.0))
        load = asyncio.run(_phase(target, questions, clients, seconds, think_s, probe=mode != "extractive"))
        ratio = round(load["p95_ms"] / idle["p95_ms"], 2) if load["p95_ms"] and idle["p95_ms"] else None
        return {"mode": mode, "target": target, "idle": idle, "load": load, "p95_load_over_idle": ratio}

    if url:
        check_server(url)
        return measure(url)
    # Our own server, with the rate limit that would shed this load off: the test is of capacity.
    no_limit = {"QINGSHAN_RATE_LIMIT_PER_MINUTE": "0", "QINGSHAN_RATE_LIMIT_REJECTED_PER_MINUTE": "0"}
    with bot_server(["--mode", mode], free_port(), env=no_limit) as server:
        return measure(server)


def check_server(url: str) -> None:
    """A running qingshan-bot at `url`, or a UserError that says how to start one."""
    import urllib.error
    import urllib.request

    if not url.startswith(("http://", "https://")):
        raise UserError(f"--url {url!r} must start with http:// or https://")
    try:
        urllib.request.urlopen(url.rstrip("/") + "/healthz", timeout=5).close()
    except urllib.error.HTTPError as exc:
        raise UserError(f"{url} answered /healthz with {exc.code}: is it a qingshan-bot server?") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(
            f"no server at {url} ({reason}); start one with `qingshan-bot serve`, or leave out --url "
            "and the load test starts its own"
        ) from None


def format_load(report: dict[str, Any]) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2)
