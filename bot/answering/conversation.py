"""History handling: bounding it, detecting the user's language, and the cheap follow-up rewrite
used when no LLM condenses the question."""

from __future__ import annotations

import re

from bot.core.jsonl import Turn
from bot.core.text import small_number, strip_markers

_FOLLOWUP_HINTS = re.compile(
    r"^(那|那么|还有|另外|然后|并且|而且|此外)|还有别的|还有其他|它|他们|她们|它们|该|其|这个|那个|这些|那些|这家|那家|"
    r"这项|那项|这一|第[一二三四五六七八九十\d]+个|呢[？?]?$|\b(it|its|they|them|their|this|that|these|"
    r"those|he|she|the same)\b",
    re.IGNORECASE,
)


def bound_history(history: list[Turn], max_turns: int, max_chars: int) -> list[Turn]:
    """The most recent turns that fit both limits (older turns matter least to a follow-up)."""
    kept: list[Turn] = []
    total = 0
    for turn in reversed(history[-max_turns:]):
        total += len(turn.content)
        if total > max_chars:
            break
        kept.append(turn)
    return list(reversed(kept))


# A follow-up asking for more than was said ("还有呢？", "其他的呢", "what else").
_WANTS_MORE = re.compile(r"还有|其他|其它|别的|此外|除了|\b(else|other|more|another)\b", re.IGNORECASE)


def wants_more(question: str) -> bool:
    """Whether a follow-up asks for what the last answer did not say. Only then is what it said
    passed over: a follow-up about the same thing ("它是哪国的？") is often answered by the very
    sentence the last answer quoted."""
    return bool(_WANTS_MORE.search(question))


def looks_like_followup(question: str) -> bool:
    """Pronouns, "还有/那…呢" openers, or a question too short to stand alone."""
    q = question.strip()
    return len(q) <= 12 or (len(q) <= 40 and bool(_FOLLOWUP_HINTS.search(q)))


_ORDINAL = re.compile(r"第([一二三四五六七八九十]|\d{1,2})(个|项|家|条|位)")
_ITEM_SPLIT = re.compile(r"[、，,；;]|以及|和|及")


def resolve_ordinal(question: str, answer: str) -> str:
    """A "第一个" after a list answer becomes the first item of that list."""
    m = _ORDINAL.search(question)
    if not m:
        return question
    n = small_number(m.group(1)) or 0
    body = strip_markers(answer)
    # The list is what follows the answer's last colon ("四个创新平台：A、B、C和D。").
    tail = re.split(r"[:：]", body)[-1].split("。")[0]
    items = [i.strip() for i in _ITEM_SPLIT.split(tail) if i.strip()]
    if len(items) < 2 or n > len(items):
        return question
    return question[: m.start()] + items[n - 1] + question[m.end() :]


_DEMONSTRATIVE = re.compile(r"(这个|那个|这家|那家|这项|那项|这一|该)([\u4e00-\u9fff]{1,2})")
# Characters that end a name when reading backwards from its head noun ("完成了|18吨抑尘车").
_NOT_IN_NAME = frozenset("了的和与在是把被将对向从为及并等其这那该个也都还就有")
# Verbs that end the reading too ("推进建设|风光储氢一体化项目").
_VERBS = frozenset("建设 推进 开发 完成 引进 引入 成立 合作 打造 创建 签署 研制 落地".split())


def resolve_demonstrative(question: str, answer: str) -> str:
    """A "这个车" after "……完成了18吨抑尘车的开发" becomes "18吨抑尘车": the previous answer's
    name ending in the noun the demonstrative points at."""
    body = strip_markers(answer)
    for m in _DEMONSTRATIVE.finditer(question):
        for noun in dict.fromkeys((m.group(2), m.group(2)[:1])):
            pos = body.find(noun)
            if noun[0] in _NOT_IN_NAME or pos < 0:
                continue
            start = pos
            while start > 0 and pos - start < 8 and body[start - 1].isalnum() and body[start - 1] not in _NOT_IN_NAME:
                if body[max(0, start - 2) : start] in _VERBS:
                    break
                start -= 1
            if pos - start >= 2:
                return question[: m.start()] + body[start:pos] + question[m.end(1) :]
            break
    return question


def unresolved(rewrite: str) -> bool:
    """Whether a rewrite still points back ("这个项目", "它"): it is no standalone question."""
    return bool(_DEMONSTRATIVE.search(rewrite)) or "它" in rewrite


def rule_rewrite(question: str, history: list[Turn]) -> str:
    """Extractive mode's rewrite: a follow-up is searched with the previous user question, and
    "第一个" or "这个车" becomes the item or name of the previous answer it points at.

    The previous answer itself is not added: measured on the 15 follow-ups, its words
    outweighed the new question's and picked what was already said (3 lost, 2 gained)."""
    users = [t.content for t in history if t.role == "user"]
    if not users or not looks_like_followup(question):
        return question
    said = next((t.content for t in reversed(history) if t.role == "assistant"), "")
    q = resolve_demonstrative(resolve_ordinal(question.strip(), said), said)
    return f"{users[-1].strip()} {q}"


def language_of(text: str) -> str:
    """English when Latin letters dominate: "Which institute is 北重集团 partnering with?" is
    an English question that quotes a Chinese name."""
    cjk = len(re.findall(r"[\u3400-\u9fff]", text))
    latin = len(re.findall(r"[A-Za-z]", text))
    return "en" if latin > 3 * cjk else "zh"
