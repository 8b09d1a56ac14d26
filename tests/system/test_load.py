"""The load-test command itself, kept small: a real server, concurrent clients, zero failures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_loadtest_command_reports_latency_and_no_failures(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    argv = [sys.executable, "-m", "bot", "loadtest", "--clients", "8", "--seconds", "4", "--think", "0.1"]
    proc = subprocess.run([*argv, "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    load = report["load"]
    # What a user relies on under load: every question answered (no 5xx, no dropped connection,
    # no rate-limit lockout of these well-behaved clients), and each one answered in time.
    assert load["clients"] == 8 and load["ok"] > 20 and load["failed"] == 0, load
    assert not load["shed_with_retry_after"] and not load["failure_examples"], load
    assert load["p99_ms"] < 10_000, load  # extractive answers take tens of ms alone
    # One client alone, first: every question answered, quickly.
    assert report["idle"]["ok"] > 0 and report["idle"]["failed"] == 0 and report["idle"]["p95_ms"] < 5_000
