"""Rules a newcomer can rely on, checked rather than hoped for."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BOT = ROOT / "bot"
LONGEST_FUNCTION = 60
# The first corpus's names: they belong in corpus/profile.toml and test data, never product code.
ARTICLE_NAMES = re.compile("青山|北奔|包头|重汽")


def test_no_function_in_bot_is_over_60_lines() -> None:
    long = []
    for path in BOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > LONGEST_FUNCTION:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, long


def test_no_corpus_names_in_product_code() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in BOT.rglob("*")
        if path.suffix in {".py", ".js", ".html"}
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ARTICLE_NAMES.search(line)
    ]
    assert not found, found


def test_readme_is_an_index() -> None:
    readme = ROOT / "README.md"
    assert len(readme.read_bytes()) <= 15_000
    for link in re.findall(r"\]\((docs/[^)#]+)", readme.read_text(encoding="utf-8")):
        assert (ROOT / link).exists(), f"README links to missing {link}"


def test_one_version_number() -> None:
    from bot import __version__

    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'version = "{__version__}"' in pyproject
    assert "version=" not in (BOT / "server" / "app.py").read_text(encoding="utf-8").replace("version=__version__", "")


def test_cli_reference_is_current() -> None:
    from bot.cli.reference import render

    committed = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert committed == render(), "docs/cli.md is stale: run `qingshan-bot docs --cli`"
