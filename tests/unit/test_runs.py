"""Run folders as `eval --mode all` writes them (one report, files per mode): naming a mode,
the error without one, and a comparison of two modes of one folder, from the files alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.core.errors import UserError
from bot.evaluation.compare import compare_runs, gate
from bot.evaluation.runs import find_runs, load_run


def _case(qid: str, verdict: str, ms: float) -> dict:
    return {
        "id": qid,
        "type": "number",
        "question": f"问题{qid}",
        "verdict": verdict,
        "reason": verdict,
        "total_ms": ms,
    }


def _folder(tmp_path: Path) -> Path:
    d = tmp_path / "all"
    d.mkdir()
    verdicts = {"extractive": ["pass", "pass", "fail"], "local": ["fail", "pass", "pass"]}
    modes = {}
    for mode, vs in verdicts.items():
        cases = [_case(f"q{i}", v, 10.0 * (i + 1) * (5 if mode == "local" else 1)) for i, v in enumerate(vs)]
        (d / f"cases-{mode}.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases))
        answers = [{"id": c["id"], "answer": f"{mode} {c['id']}", "citations": []} for c in cases]
        (d / f"answers-{mode}.jsonl").write_text("".join(json.dumps(a) + "\n" for a in answers))
        acc = vs.count("pass") / 3
        modes[mode] = {"overall": {"accuracy": acc}, "by_type": {"number": {"n": 3, "accuracy": acc}}}
    report = {"accuracy": {m: r["overall"]["accuracy"] for m, r in modes.items()}, "modes": modes}
    (d / "report.json").write_text(json.dumps(report))
    return d


def test_a_folder_of_several_modes_needs_one_named(tmp_path: Path) -> None:
    d = _folder(tmp_path)
    with pytest.raises(UserError, match=f"{d}#extractive"):
        load_run(d)
    with pytest.raises(UserError, match="has no mode 'openai'"):
        load_run(f"{d}#openai")
    assert [r.name for r in find_runs(tmp_path)] == ["all#extractive", "all#local"]


def test_two_modes_of_one_folder_compared(tmp_path: Path) -> None:
    d = _folder(tmp_path)
    result = compare_runs(load_run(f"{d}#extractive"), load_run(f"{d}#local"))
    assert [(r["id"], r["change"]) for r in result["changed"]] == [("q0", "regression"), ("q2", "fix")]
    assert result["changed"][0]["a"]["answer"] == "extractive q0" and result["changed"][0]["b"]["answer"] == "local q0"
    assert result["overall"]["accuracy"]["delta"] == 0.0
    assert result["latency"]["per_question_delta_ms_p50"] == 80.0
    assert gate(result, "accuracy", 0.0)[0]


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        ('{"id": "q9", "verd', "cannot be read"),  # a run killed while writing
        ("[1, 2]\n", r"cases-local.jsonl:4 is not a JSON object"),
        ('{"question": "no id"}\n', r"cases-local.jsonl:4 is not a case written by `qingshan-bot eval`"),
    ],
)
def test_a_broken_cases_file_is_a_clear_error(tmp_path: Path, tail: str, message: str) -> None:
    d = _folder(tmp_path)
    with (d / "cases-local.jsonl").open("a") as fh:
        fh.write(tail)
    with pytest.raises(UserError, match=message):
        load_run(f"{d}#local").cases()
    assert len(load_run(f"{d}#extractive").cases()) == 3


def test_the_gate_fails_when_its_metric_was_not_measured_in_both_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The runs' reports carry accuracy only: gating on latency cannot pass (a misspelt or
    missing figure would otherwise wave every change through)."""
    from bot.cli import main

    d = _folder(tmp_path)
    result = compare_runs(load_run(f"{d}#extractive"), load_run(f"{d}#local"))
    ok, line = gate(result, "latency_ms_p50", 1000.0)
    assert not ok and line == "latency_ms_p50: not measured in run A and B; the gate cannot pass without it"
    result["overall"]["latency_ms_p50"]["a"] = 40.0
    assert gate(result, "latency_ms_p50", 1000.0) == (
        False,
        "latency_ms_p50: not measured in run B; the gate cannot pass without it",
    )
    args = ["eval", "--compare", f"{d}#extractive", f"{d}#local", "--out", str(tmp_path / "out")]
    assert main([*args, "--metric", "latency_ms_p50", "--max-drop", "1000"]) == 1
    assert capsys.readouterr().out.splitlines()[-1].startswith("latency_ms_p50: not measured in run A and B")
    assert main([*args, "--metric", "accuracy", "--max-drop", "0"]) == 0  # measured in both: the gate runs
