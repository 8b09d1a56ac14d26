"""Multi-part questions: one question that asks two things ("A？B？", "谁……，在哪里……？",
"A和B分别是……？") is split into its parts, so each part is retrieved, checked and cited on its
own, and an answer is whole only when every part is. A single question with a comma ("2008年，
欧盟做出了什么批准？") stays whole: every part must ask something (hold a question word).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Question words: a clause holding one asks something.
_ASKS = re.compile(r"什么|哪|谁|多少|几|何时|何地|何处|怎么|怎样|如何|为什么|为何|是否|吗|呢|多高|多大|多长|多久")
_CONNECTOR = re.compile(r"^(?:请问|那么|那|还有|另外|以及|并且|而且|同时|此外|又)[，,、\s]*")
_CLAUSES = re.compile(r"[？?；;]|[，,]\s*(?=(?:另外|还有|以及|并且|同时|此外|又)|[^，,]*(?:谁|哪|什么|多少|几))")
# "A和B分别是……": one predicate asked of two named things.
_RESPECTIVELY = re.compile(r"^(?P<a>[^，,？?]{2,16}?)(?:和|与|及|跟|、)(?P<b>[^，,？?]{2,16}?)分别(?P<rest>.+)$")
MAX_PARTS = 4


def split_parts(question: str) -> list[str]:
    """The parts of a Chinese question, or [question] when it asks one thing."""
    q = question.strip()
    if m := _RESPECTIVELY.match(q):
        rest = m.group("rest").lstrip("是为")
        if _ASKS.search(rest):
            return [f"{m.group('a')}{_verb(m.group('rest'))}{rest}", f"{m.group('b')}{_verb(m.group('rest'))}{rest}"]
    parts = _asking(_CONNECTOR.sub("", p).strip(" ，,、") for p in _CLAUSES.split(q))
    return [p + "？" for p in parts] if 2 <= len(parts) <= MAX_PARTS else [q]


def _asking(pieces: Iterable[str]) -> list[str]:
    """Clauses merged so that each asks something: a clause that asks nothing ("若游戏中离")
    sets the scene for the clause after it."""
    out: list[str] = []
    scene = ""
    for piece in (p for p in pieces if p):
        if _ASKS.search(piece):
            out.append(scene + piece)
            scene = ""
        else:
            scene += piece + "，"
    if scene and out:
        out[-1] += "，" + scene.rstrip("，")
    return out


_LEANS = re.compile(r"^(?:是|该|它|其|他|她|他们|它们|那|这|此|又|则|并且|而且)")


def leans_back(part: str) -> bool:
    """Whether a part has no subject of its own ("是哪年批的？", "该漫画是由谁创作的？")."""
    return len(part) <= 8 or bool(_LEANS.match(part))


def _verb(rest: str) -> str:
    """ "分别是什么" keeps its 是 once the subject stands alone ("A是什么")."""
    return "是" if rest.startswith("是") else ""
