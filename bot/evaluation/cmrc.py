"""Turn a CMRC 2018 (SQuAD-style) split into a corpus folder and a question file.

One document per paragraph (id = the paragraph id); each question keeps its gold answers as
`must` alternatives, the answer with a little surrounding context as `evidence`, and the gold
paragraph as `gold_doc` for paragraph-level recall. The dataset itself is never copied into
the repo: it is read from wherever it lies (CC BY-SA 4.0, see its NOTICE).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from bot.core.errors import UserError
from bot.core.jsonl import write_jsonl

_SAFE_ID = re.compile(r"[^A-Za-z0-9_.-]")
_CONTEXT = 8


def convert(source: Path, out: Path) -> tuple[int, int]:
    try:
        data = json.loads(source.read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{source}: not a readable CMRC/SQuAD json file ({exc})") from None
    corpus = out / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    questions = []
    n_docs = 0
    for article in data:
        for para in article["paragraphs"]:
            doc_id = _SAFE_ID.sub("_", str(para.get("id") or f"p{n_docs}"))
            context = para["context"]
            title = article.get("title") or doc_id
            (corpus / f"{doc_id}.txt").write_text(
                f"---\ntitle: {title}\nsource: CMRC 2018 (CC BY-SA 4.0)\n---\n{context}\n",
                encoding="utf-8",
            )
            n_docs += 1
            for qa in para.get("qas", []):
                answers = [a for a in qa.get("answers", []) if a.get("text", "").strip()]
                if not answers or not str(qa.get("question", "")).strip():
                    continue
                texts = list(dict.fromkeys(a["text"].strip() for a in answers))
                first = answers[0]
                start = int(first.get("answer_start", context.find(first["text"])))
                if context[start : start + len(first["text"])] != first["text"]:
                    start = context.find(first["text"])
                evidence = [_window(context, start, len(first["text"]))] if start >= 0 else texts
                questions.append(
                    {
                        "id": str(qa["id"]),
                        "type": "cmrc",
                        "question": qa["question"].strip(),
                        "answerable": True,
                        "must": [texts],
                        "evidence": evidence,
                        "gold_doc": doc_id,
                    }
                )
    write_jsonl(out / "questions.jsonl", questions)
    return n_docs, len(questions)


def _window(context: str, start: int, length: int) -> str:
    """The answer plus a few characters around it, never crossing a sentence end or newline."""
    lo = start
    while lo > 0 and start - lo < _CONTEXT and context[lo - 1] not in "。！？；\n":
        lo -= 1
    hi = start + length
    while hi < len(context) and hi - start - length < _CONTEXT and context[hi] not in "。！？；\n":
        hi += 1
    return context[lo:hi].strip()
