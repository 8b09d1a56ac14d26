"""Optional LLM judge (off by default): RAGAS-style faithfulness and answer relevancy, asked of
the configured LLM as yes/no questions. Slower and less reliable than the string metrics; use it
to look for disagreements, not as the gate."""

from __future__ import annotations

from typing import Any

from bot.models.llm import ChatBackend

_FAITH = "资料：\n{ctx}\n\n回答：{ans}\n\n回答中的每一个事实都能在资料中找到依据吗？只回答“是”或“否”。"
_RELEV = "问题：{q}\n回答：{ans}\n\n这个回答是否直接回答了问题？只回答“是”或“否”。"


def _yes(backend: ChatBackend, prompt: str) -> bool:
    reply = "".join(backend.stream([{"role": "user", "content": prompt}], max_tokens=4))
    return reply.strip().startswith(("是", "yes", "Yes"))


def judge_rows(backend: ChatBackend, rows: list[dict[str, Any]]) -> dict[str, Any]:
    faith, relev = [], []
    for row in rows:
        if row.get("refused") or not row.get("citations"):
            continue
        ctx = "\n".join(f"[{c['n']}] {c['quote']}" for c in row["citations"])
        faith.append(_yes(backend, _FAITH.format(ctx=ctx, ans=row["answer"])))
        relev.append(_yes(backend, _RELEV.format(q=row["question"], ans=row["answer"])))
    n = len(faith)
    return {
        "judged": n,
        "faithfulness": round(sum(faith) / n, 4) if n else None,
        "answer_relevancy": round(sum(relev) / n, 4) if n else None,
    }
