"""What the HTTP layer costs, and how long `serve` takes to become ready.

Overhead is measured per request as (round trip seen by the client) − (the answer's own
`total_ms`, measured inside the server): both clocks tick in the same run on the same machine,
so the difference is routing, validation, middleware, JSON and loopback — whatever the load.
"""

from __future__ import annotations

import json
import statistics
import time
import urllib.request
from pathlib import Path
from typing import Any

from bot.devtools.screenshots import bot_server, free_port
from bot.evaluation.scoring import percentile


def post_json(url: str, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    data = json.dumps(body, ensure_ascii=False).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=300) as resp:
        answer = json.loads(resp.read())
    return (time.perf_counter() - t0) * 1000, answer


def run_http_bench(
    questions: list[str], mode: str = "extractive", extra_args: list[str] | None = None
) -> dict[str, Any]:
    port = free_port()
    t0 = time.perf_counter()
    with bot_server(["--mode", mode, *(extra_args or [])], port) as server:
        ready_s = time.perf_counter() - t0
        for q in questions[:3]:  # warm the query path once
            post_json(server + "/api/ask", {"question": q})
        trips, inside, overhead = [], [], []
        for q in questions:
            trip, answer = post_json(server + "/api/ask", {"question": q})
            total = float(answer["timings"]["total_ms"])
            trips.append(trip)
            inside.append(total)
            overhead.append(trip - total)
    return {
        "mode": mode,
        "questions": len(questions),
        "cold_start_to_ready_s": round(ready_s, 2),
        "round_trip_ms": {"p50": percentile(trips, 0.5, digits=2), "p95": percentile(trips, 0.95, digits=2)},
        "in_process_answer_ms": {"p50": percentile(inside, 0.5, digits=2), "p95": percentile(inside, 0.95, digits=2)},
        "http_overhead_ms": {
            "p50": percentile(overhead, 0.5, digits=2),
            "p95": percentile(overhead, 0.95, digits=2),
            "mean": round(statistics.fmean(overhead), 2),
        },
    }


def read_question_texts(path: Path, limit: int) -> list[str]:
    """The standalone questions of a question file (follow-ups need their history)."""
    from bot.core.errors import UserError
    from bot.core.jsonl import read_jsonl

    rows = [r for _, r in read_jsonl(path, "questions file") if not r.get("history")]
    texts = [r["question"] for r in rows if isinstance(r.get("question"), str)]
    out = [q for q in texts if q.strip()][:limit]
    if not out:
        raise UserError(f"{path}: no questions (each line needs a `question` string)")
    return out
