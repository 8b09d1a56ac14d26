"""`cmrc-sets` then `eval-suite` in fresh processes, with the real embedding model, on a small
CMRC-shaped file made here: the summary reports each set's headline figure and the follow-up gap."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_cmrc_sets import _source

pytestmark = pytest.mark.integration


def test_cmrc_sets_then_eval_suite(tmp_path: Path) -> None:
    sets = tmp_path / "sets"
    run = [sys.executable, "-m", "bot"]
    built = subprocess.run(
        [*run, "cmrc-sets", str(_source(tmp_path)), "--out", str(sets)], capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr[-2000:]
    argv = [*run, "eval-suite", "--sets", str(sets), "--split", "dev", "--mode", "extractive", "--limit", "4"]
    done = subprocess.run([*argv, "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    rows = {r["set"]: r for r in summary["sets"]}
    assert rows["open"]["metric"] == "accuracy" and rows["missing-topic"]["metric"] == "refusal"
    assert rows["open"]["value"] >= 0.75  # four questions whose words the corpus states
    assert summary["followup_gap"] is not None and "| open |" in done.stdout
    missing = subprocess.run([*run, "eval-suite", "--sets", str(tmp_path / "none")], capture_output=True, text=True)
    assert missing.returncode == 2 and "cmrc-sets" in missing.stderr and "Traceback" not in missing.stderr
