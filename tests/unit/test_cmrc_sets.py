"""The open-corpus sets are built as they say: the fact or topic really gone, both parts asked,
the subject replaced, the year changed, and every item on its paragraph's side of the split."""

from __future__ import annotations

import json
from pathlib import Path

from bot.evaluation import cmrc_sets
from bot.evaluation.retrieval_eval import normalise


def _source(tmp_path: Path, n: int = 12) -> Path:
    data = []
    for i in range(n):
        ctx = (
            f"测试条目{i}是一种虚构的事物。它于{1990 + i}年由甲{i}研究所命名。"
            f"它的高度约为{10 + i}米，颜色为第{i}种蓝色。它分布在乙{i}山区。"
        )
        qas = [
            {
                "id": f"Q{i}_0",
                "question": f"测试条目{i}由哪个机构命名？",
                "answers": [{"text": f"甲{i}研究所", "answer_start": ctx.index(f"甲{i}")}],
            },
            {
                "id": f"Q{i}_1",
                "question": f"测试条目{i}的高度约为多少？",
                "answers": [{"text": f"{10 + i}米", "answer_start": ctx.index(f"{10 + i}米")}],
            },
            {
                "id": f"Q{i}_2",
                "question": f"{1990 + i}年，测试条目{i}由谁命名？",
                "answers": [{"text": f"甲{i}研究所", "answer_start": ctx.index(f"甲{i}")}],
            },
        ]
        data.append(
            {"id": f"A{i}", "title": f"测试条目{i}", "paragraphs": [{"id": f"P{i}", "context": ctx, "qas": qas}]}
        )
    path = tmp_path / "cmrc.json"
    path.write_text(json.dumps({"data": data}, ensure_ascii=False), encoding="utf-8")
    return path


def _items(out: Path, name: str) -> list[dict]:
    rows = []
    for split in ("dev", "heldout"):
        rows += [json.loads(x) for x in (out / f"{name}-{split}.jsonl").read_text(encoding="utf-8").splitlines()]
    return rows


def test_sets_are_built_as_described(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(cmrc_sets, "MISSING_TOPIC_PARAGRAPHS", 4)
    out = tmp_path / "sets"
    manifest = cmrc_sets.build(_source(tmp_path), out)
    assert set(manifest["sets"]) == {
        "open",
        "multi",
        "followup",
        "followup-alone",
        "time",
        "missing-fact",
        "missing-topic",
    }
    fact_corpus = normalise(
        "".join(p.read_text(encoding="utf-8") for p in (out / "missing-fact" / "corpus").glob("*.txt"))
    )
    for item in _items(out, "missing-fact"):
        assert not item["answerable"] and item["must"] == []
    assert _items(out, "missing-fact") and "甲0研究所" not in fact_corpus and "测试条目0" in fact_corpus
    kept = {p.stem for p in (out / "missing-topic" / "corpus").glob("*.txt")}
    assert len(kept) == 12 - 4 and all(
        i["id"].split("-", 2)[-1].split("_")[0][1:] not in kept for i in _items(out, "missing-topic")
    )
    for item in _items(out, "multi"):
        assert len(item["must"]) == 2 and item["answerable"]
    for item in _items(out, "followup"):
        assert "它" in item["question"] and item["history"][0]["content"].startswith("测试条目")
    for item in _items(out, "time"):
        assert item["question"] != item["original"] and not item["answerable"]
    # Every item of a paragraph is on that paragraph's side of the dev/held-out split.
    sides: dict[str, set[str]] = {}
    for name in manifest["sets"]:
        for item in _items(out, name):
            sides.setdefault(item["id"].rsplit("_", 1)[0].split("-")[-1], set()).add(item["split"])
    assert all(len(s) == 1 for s in sides.values())
