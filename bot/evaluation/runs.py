"""Reading the folders `qingshan-bot eval` writes: report.json, cases.jsonl and answers.jsonl
(with `-<mode>` suffixes when one call ran several modes). The compare command and the
evaluation page both read runs through here, so neither scores anything again.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.core.errors import UserError

# Below the runs folder, how deep a report.json may lie (out/eval, out/x/run-a, out/x/y/run).
_DEPTH = 3


@dataclass
class Run:
    """One mode of one eval folder."""

    name: str
    folder: Path
    mode: str
    report: dict[str, Any]  # this mode's report: overall, by_type, failures
    meta: dict[str, Any]
    suffix: str  # "" or "-<mode>": the file names of this mode
    _cases: list[dict[str, Any]] | None = field(default=None, repr=False)

    @property
    def cases_path(self) -> Path:
        return self.folder / f"cases{self.suffix}.jsonl"

    @property
    def answers_path(self) -> Path:
        return self.folder / f"answers{self.suffix}.jsonl"

    @property
    def created(self) -> str:
        return str(self.meta.get("created") or "")

    def has_cases(self) -> bool:
        return self.cases_path.exists()

    def cases(self) -> list[dict[str, Any]]:
        if self._cases is None:
            if not self.has_cases():
                raise UserError(
                    f"{self.folder} has no {self.cases_path.name}: it was written before eval kept per-question "
                    f"verdicts; run `qingshan-bot eval` again into it"
                )
            cases = _read_lines(self.cases_path)
            for n, case in enumerate(cases, 1):
                if "id" not in case or "verdict" not in case:
                    raise UserError(
                        f"{self.cases_path}:{n} is not a case written by `qingshan-bot eval` (no id or verdict)"
                    )
            self._cases = cases
        return self._cases

    def answers(self, ids: set[str] | None = None) -> dict[str, dict[str, Any]]:
        """The `ask --json` rows of this run by question id (only `ids` when given)."""
        if not self.answers_path.exists():
            return {}
        rows = {str(r.get("id")): r for r in _read_lines(self.answers_path)}
        return rows if ids is None else {k: v for k, v in rows.items() if k in ids}

    def headline(self, key: str) -> Any:
        return self.report.get("overall", {}).get(key)


def _read_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a .jsonl file; a line cut short (a run killed while writing) or not an
    object is named with its number, never a traceback."""
    rows = []
    try:
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise UserError(f"{path}:{n} is not a JSON object; run `qingshan-bot eval` again into it")
                rows.append(row)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} cannot be read ({exc}); run `qingshan-bot eval` again into it") from None
    return rows


def _read_report(folder: Path) -> dict[str, Any]:
    path = folder / "report.json"
    if not path.is_file():
        raise UserError(f"no report.json in {folder}: give a folder written by `qingshan-bot eval --out`")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not a readable report ({exc})") from None
    if not isinstance(report, dict) or not ("overall" in report or "modes" in report):
        raise UserError(f"{path} is not a report written by `qingshan-bot eval`")
    return report


def runs_in(folder: Path, name: str | None = None) -> list[Run]:
    """Every mode of one eval folder as a Run."""
    report = _read_report(folder)
    meta = report.get("meta") or {}
    name = name or str(folder)
    if "modes" in report:
        return [
            Run(f"{name}#{m}", folder, m, r, meta, f"-{m}") for m, r in report["modes"].items() if isinstance(r, dict)
        ]
    return [Run(name, folder, str(report.get("mode", "")), report, meta, "")]


def load_run(spec: str | Path) -> Run:
    """`DIR`, or `DIR#MODE` for a folder holding several modes (`eval --mode all`)."""
    text = str(spec)
    folder, _, mode = text.partition("#")
    runs = runs_in(Path(folder), folder)
    if mode:
        picked = [r for r in runs if r.mode == mode]
        if not picked:
            raise UserError(f"{folder} has no mode {mode!r}; it has {', '.join(r.mode for r in runs)}")
        return picked[0]
    if len(runs) > 1:
        raise UserError(f"{folder} holds several modes; name one: " + ", ".join(f"{folder}#{r.mode}" for r in runs))
    return runs[0]


def find_runs(root: Path) -> list[Run]:
    """Every run below `root` (report.json up to three folders down), oldest first."""
    found: list[Run] = []
    if not root.is_dir():
        return found
    base = len(root.parts)
    for here, dirs, files in os.walk(root):
        depth = len(Path(here).parts) - base
        if depth >= _DEPTH:
            dirs[:] = []
        dirs.sort()
        if "report.json" in files:
            folder = Path(here)
            try:
                found.extend(runs_in(folder, folder.relative_to(root).as_posix() or "."))
            except UserError:
                continue  # a report of another kind (bench, suite): not an eval run
    found.sort(key=lambda r: (r.created, r.name))
    return found
