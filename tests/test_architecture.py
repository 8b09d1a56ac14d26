"""Data flows one way: corpus -> chunks -> index -> retrieval -> answerer -> adapters/eval.
A module may import only from its own layer or those upstream of it."""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent / "bot"

LAYERS = [
    {"errors", "settings", "offline"},
    {"corpus", "chunking", "embedding_build", "models"},
    {"embeddings", "keyword", "store"},
    {"indexer", "retrieval"},
    {
        "answer_types",
        "sentences",
        "structure",
        "guard",
        "conversation",
        "llm",
        "llm_worker",
        "llm_prove",
        "prompting",
        "verify",
        "extractive",
    },
    {"answerer", "gate"},
    {"retrieval_eval", "scoring", "cmrc", "bench_retrieval", "evaluation", "charts", "judge", "bench_peer"},
    {"service", "feedback", "ratelimit"},  # what the server's adapters share
    {
        "api_schema",
        "api",
        "render",
        "security",
        "web",
        "server",
        "screenshots",
        "bench_http",
        "loadtest",
        "bench",
        "bench_worker",
    },  # adapters
    {"cli", "__main__", "__init__"},
]
LEVEL = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bot."):
            out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[1] for a in node.names if a.name.startswith("bot."))
    return out


def test_every_module_has_a_layer() -> None:
    assert {p.stem for p in BOT.glob("*.py")} <= set(LEVEL)


def test_imports_point_upstream() -> None:
    bad = []
    for path in BOT.glob("*.py"):
        for dep in _imports(path):
            if LEVEL[dep] > LEVEL[path.stem]:
                bad.append(f"{path.stem} -> {dep}")
    assert not bad, bad


def test_answerer_knows_nothing_of_scoring() -> None:
    assert not _imports(BOT / "answerer.py") & LAYERS[6]
