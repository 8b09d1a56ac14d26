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
    assert load["clients"] == 8 and load["ok"] > 20 and load["failed"] == 0, load
    assert load["p50_ms"] <= load["p95_ms"] <= load["p99_ms"] and report["idle"]["p95_ms"] > 0
