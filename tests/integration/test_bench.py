"""`qingshan-bot bench` end to end, kept small: two questions, the peer, both of our modes, one
synthetic scale. The full run (README figures) is the same command with its defaults."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.devtools.bench import select

pytestmark = [pytest.mark.integration, pytest.mark.llm]


def test_select_keeps_every_type() -> None:
    items = [{"id": f"{t}{i}", "type": t} for t in "abc" for i in range(5)]
    picked = select(items, 6)
    assert len(picked) == 6 and {p["type"] for p in picked} == {"a", "b", "c"}
    assert picked == sorted(picked, key=items.index)


def test_bench_command_writes_json_markdown_and_chart(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    argv = [sys.executable, "-m", "bot", "bench", "--limit", "2", "--scales", "1000", "--out", str(out)]
    argv += ["--cmrc", str(tmp_path / "absent.json")]  # the CMRC indexing figure is for full runs
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    assert set(report["systems"]) == {"peer", "local", "extractive"}
    for s in report["systems"].values():
        assert s["first_token_ms"]["p50"] > 0 and s["peak_rss_mib"] > 100
    peer, local = report["systems"]["peer"], report["systems"]["local"]
    assert peer["prompt_tokens_mean"] > local["prompt_tokens_mean"] > 0
    assert report["ratios_vs_peer"]["local_first_token_p50"] is not None
    assert report["retrieval_at_scale"]["1000"]["p95_ms"] > 0
    assert report["indexing"]["article"]["chunks_per_s"] > 0
    assert report["cold_start"]["serve_local_peak_rss_mib"] > 0
    # The table a person reads says what the JSON says: one row per system with its own figures.
    md = (out / "bench.md").read_text(encoding="utf-8")
    for name, s in report["systems"].items():
        [row] = [line for line in md.splitlines() if line.startswith(f"| {name} |")]
        assert (
            f"{s['first_token_ms']['p50']} / {s['first_token_ms']['p95']}" in row and f"| {s['peak_rss_mib']} |" in row
        )
    assert (out / "bench.png").stat().st_size > 1000
