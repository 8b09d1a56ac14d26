"""The tree is the diagram: a package per stage, and imports point one way.

core -> models -> ingest -> retrieval -> answering -> evaluation -> server -> devtools -> cli
A package may import itself and the packages before it in this list, never one after it.
"""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parents[2] / "bot"
ORDER = ["core", "models", "ingest", "retrieval", "answering", "evaluation", "server", "devtools", "cli"]
LEVEL = {name: i for i, name in enumerate(ORDER)}
# `ingest` needs no model and `models` no document: siblings may not import each other either.
SIBLINGS = {("ingest", "models"), ("models", "ingest")}


def _package(path: Path) -> str:
    rel = path.relative_to(BOT).parts
    return rel[0] if len(rel) > 1 else path.stem


def imports(path: Path) -> set[str]:
    """The `bot` packages a module imports, read from its syntax tree (lazy imports included)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bot."):
            out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[1] for a in node.names if a.name.startswith("bot."))
    return out


def modules() -> list[Path]:
    return sorted(p for p in BOT.rglob("*.py") if len(p.relative_to(BOT).parts) > 1)


def test_every_module_lives_in_a_stage_package() -> None:
    top = sorted(p.name for p in BOT.glob("*.py"))
    assert top == ["__init__.py", "__main__.py"]
    assert {_package(p) for p in modules()} <= set(ORDER)


def test_imports_point_upstream() -> None:
    bad = []
    for path in modules():
        pkg = _package(path)
        for dep in imports(path):
            if dep not in LEVEL:
                bad.append(f"{path.relative_to(BOT)} imports bot.{dep}, which is no stage package")
            elif LEVEL[dep] > LEVEL[pkg] or (pkg, dep) in SIBLINGS:
                bad.append(f"{path.relative_to(BOT)} ({pkg}) imports bot.{dep}")
    assert not bad, bad


def test_the_answerer_knows_nothing_of_evaluation_or_adapters() -> None:
    for path in (BOT / "answering").glob("*.py"):
        assert not imports(path) & {"evaluation", "server", "devtools", "cli"}, path


def test_product_never_imports_devtools() -> None:
    product = [p for p in modules() if _package(p) not in {"devtools", "cli"}]
    assert not [p for p in product if "devtools" in imports(p)]
