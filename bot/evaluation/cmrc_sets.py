"""Open-corpus development sets built from a CMRC 2018 split, reproducibly (`qingshan-bot cmrc-sets`).

The article's own question sets had been tuned to; these come from public Wikipedia paragraphs
nobody here wrote, and each asks one thing a real corpus does to an assistant:

- `open`: every paragraph pooled as one corpus; questions asked without saying where they come from.
- `missing-fact`: the corpus without the sentence that holds the gold span (the rest of its
  paragraph stays: the topic is there, the fact is not); expected: refusal.
- `missing-topic`: the corpus without the whole gold paragraph; expected: refusal.
- `multi`: two questions of one paragraph asked as one; expected: both answers.
- `followup`: the first turn asks about the paragraph's subject (its title), the second is one of
  its questions with the subject replaced by 它; expected: the gold answer.
  `followup-alone` asks the same questions alone, for comparison.
- `time`: a year or an edition in the question changed to one the paragraph does not state;
  expected: refusal.

A span counts as absent only if its normalised text occurs nowhere in the corpus it is asked
against. Each paragraph is dev or held-out by a hash of its id (about 30% held out), and every
item follows its paragraph: tuning on dev never sees a held-out paragraph.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core.errors import UserError
from bot.core.jsonl import write_jsonl
from bot.evaluation.retrieval_eval import normalise
from bot.ingest.chunking import sentence_spans

HELDOUT_SHARE = 30  # percent of paragraphs held out
MISSING_TOPIC_PARAGRAPHS = 110
_SAFE_ID = re.compile(r"[^A-Za-z0-9_.-]")
_YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d)(?!\d)")
_EDITION = re.compile(r"第([1-9]\d?)(届|代|季|部|任|次|版)")
_JOINS = ("{a}？{b}？", "{a}，另外{b}？", "请问{a}？还有，{b}？")


@dataclass(frozen=True)
class Para:
    id: str
    title: str
    text: str
    qas: list[dict[str, Any]]  # {"id", "question", "answers": [str], "start"}

    @property
    def split(self) -> str:
        bucket = int(hashlib.sha1(self.id.encode()).hexdigest(), 16) % 100
        return "heldout" if bucket < HELDOUT_SHARE else "dev"


def read_paragraphs(source: Path) -> list[Para]:
    try:
        data = json.loads(source.read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{source}: not a readable CMRC/SQuAD json file ({exc})") from None
    out = []
    for n, article in enumerate(data):
        for para in article["paragraphs"]:
            pid = _SAFE_ID.sub("_", str(para.get("id") or f"p{n}"))
            qas = []
            for qa in para.get("qas", []):
                answers = list(dict.fromkeys(a["text"].strip() for a in qa.get("answers", []) if a["text"].strip()))
                q = str(qa.get("question", "")).strip()
                if answers and q:
                    start = int(qa["answers"][0].get("answer_start", -1))
                    if para["context"][start : start + len(answers[0])] != answers[0]:
                        start = para["context"].find(answers[0])
                    qas.append({"id": str(qa["id"]), "question": q, "answers": answers, "start": start})
            out.append(Para(pid, str(article.get("title") or pid), para["context"], qas))
    return out


def _write_corpus(folder: Path, paras: list[Para], texts: dict[str, str] | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for p in paras:
        body = (texts or {}).get(p.id, p.text)
        (folder / f"{p.id}.txt").write_text(
            f"---\ntitle: {p.title}\nsource: CMRC 2018 (CC BY-SA 4.0)\n---\n{body}\n", encoding="utf-8"
        )


def _absent(answers: list[str], corpus_norm: str) -> bool:
    return all(normalise(a) and normalise(a) not in corpus_norm for a in answers)


def _item(p: Para, qa: dict[str, Any], kind: str, **fields: Any) -> dict[str, Any]:
    answerable = fields.pop("answerable", True)
    base = {
        "id": f"{kind}-{qa['id']}",
        "type": kind,
        "question": qa["question"],
        "answerable": answerable,
        "must": [qa["answers"]] if answerable else [],
        "evidence": [qa["answers"][0]] if answerable else [],
        "split": p.split,
    }
    if answerable:
        base["gold_doc"] = p.id
    return {**base, **fields}


def _open(paras: list[Para]) -> Iterator[dict[str, Any]]:
    for p in paras:
        for qa in p.qas:
            yield _item(p, qa, "open")


def _sentence_at(text: str, pos: int) -> tuple[int, int] | None:
    for s, e in sentence_spans(text, 0, len(text)):
        if s <= pos < e:
            return s, e
    return None


def _missing_fact(paras: list[Para]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """One question per paragraph whose gold sentence, once removed, leaves its span nowhere."""
    texts: dict[str, str] = {}
    chosen: list[tuple[Para, dict[str, Any]]] = []
    for p in paras:
        for qa in p.qas:
            span = _sentence_at(p.text, qa["start"]) if qa["start"] >= 0 else None
            if span and span[1] - span[0] < len(p.text) * 0.8:  # the rest of the paragraph must stay
                texts[p.id] = p.text[: span[0]] + p.text[span[1] :]
                chosen.append((p, qa))
                break
    corpus_norm = normalise("\n".join(texts.get(p.id, p.text) for p in paras))
    items = [_item(p, qa, "missing-fact", answerable=False) for p, qa in chosen if _absent(qa["answers"], corpus_norm)]
    return items, texts


def _missing_topic(paras: list[Para]) -> tuple[list[dict[str, Any]], list[Para]]:
    """Up to two questions of each removed paragraph whose spans occur nowhere in what is left."""
    order = sorted(paras, key=lambda p: hashlib.sha1(("topic" + p.id).encode()).hexdigest())
    removed = {p.id for p in order[: min(MISSING_TOPIC_PARAGRAPHS, len(paras) // 2)]}  # at most half
    kept = [p for p in paras if p.id not in removed]
    corpus_norm = normalise("\n".join(p.text + p.title for p in kept))
    items = []
    for p in paras:
        if p.id in removed:
            ok = [qa for qa in p.qas if _absent(qa["answers"], corpus_norm)][:2]
            items += [_item(p, qa, "missing-topic", answerable=False) for qa in ok]
    return items, kept


def _multi(paras: list[Para]) -> Iterator[dict[str, Any]]:
    n = 0
    for p in paras:
        for qa, qb in zip(p.qas, p.qas[1:], strict=False):
            a, b = qa["answers"][0], qb["answers"][0]
            if a in b or b in a or qa["question"] == qb["question"]:
                continue
            question = _JOINS[n % len(_JOINS)].format(a=qa["question"].rstrip("？?"), b=qb["question"].rstrip("？?"))
            n += 1
            yield {
                **_item(p, qa, "multi"),
                "question": question,
                "must": [qa["answers"], qb["answers"]],
                "evidence": [a, b],
            }
            break


def _followup(paras: list[Para]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(follow-up item, the same question asked alone) pairs, up to two per paragraph."""
    for p in paras:
        if len(p.title) < 2:
            continue
        lead = p.text[slice(*sentence_spans(p.text, 0, len(p.text))[0])].strip()
        history = [
            {"role": "user", "content": f"{p.title}是什么？"},
            {"role": "assistant", "content": f"{p.title}：{lead}"},
        ]
        for qa in [qa for qa in p.qas if p.title in qa["question"]][:2]:
            alone = _item(p, qa, "followup-alone")
            item = _item(p, qa, "followup", question=qa["question"].replace(p.title, "它"), history=history)
            yield item, alone


def _changed_time(question: str, paragraph: str) -> str | None:
    """The question with its year or edition changed to one the paragraph does not state."""
    if m := _YEAR.search(question):
        year = int(m.group(1))
        for other in (year + 1, year - 1, year + 2, year - 2, year + 3, year + 5):
            if str(other) not in paragraph:
                return question[: m.start(1)] + str(other) + question[m.end(1) :]
    if m := _EDITION.search(question):
        n = int(m.group(1))
        for other in (n + 1, n + 2, n + 3):
            if f"第{other}{m.group(2)}" not in paragraph and str(other) not in paragraph:
                return question[: m.start(1)] + str(other) + question[m.end(1) :]
    return None


def _time(paras: list[Para]) -> Iterator[dict[str, Any]]:
    for p in paras:
        for qa in p.qas:
            changed = _changed_time(qa["question"], p.text)
            if changed:
                yield {**_item(p, qa, "time", answerable=False), "question": changed, "original": qa["question"]}


def build(source: Path, out: Path) -> dict[str, Any]:
    """Writes the corpora and `<set>-<split>.jsonl` files under `out`, and `sets.json` naming, for
    each set, its corpus and question files; returns that manifest."""
    paras = read_paragraphs(source)
    _write_corpus(out / "full" / "corpus", paras)
    fact_items, fact_texts = _missing_fact(paras)
    _write_corpus(out / "missing-fact" / "corpus", paras, fact_texts)
    topic_items, kept = _missing_topic(paras)
    _write_corpus(out / "missing-topic" / "corpus", kept)
    pairs = list(_followup(paras))
    sets = {
        "open": ("full", list(_open(paras))),
        "multi": ("full", list(_multi(paras))),
        "followup": ("full", [f for f, _ in pairs]),
        "followup-alone": ("full", [a for _, a in pairs]),
        "time": ("full", list(_time(paras))),
        "missing-fact": ("missing-fact", fact_items),
        "missing-topic": ("missing-topic", topic_items),
    }
    manifest: dict[str, Any] = {"source": str(source), "heldout_share": HELDOUT_SHARE / 100, "sets": {}}
    for name, (corpus, items) in sets.items():
        entry: dict[str, Any] = {"corpus": f"{corpus}/corpus", "index": f"{corpus}/index"}
        for split in ("dev", "heldout"):
            chosen = [i for i in items if i["split"] == split]
            write_jsonl(out / f"{name}-{split}.jsonl", chosen)
            entry[split] = {"questions": f"{name}-{split}.jsonl", "n": len(chosen)}
        manifest["sets"][name] = entry
    (out / "sets.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return manifest
