"""History handling: bounding it, detecting the user's language, and the cheap follow-up rewrite
used when no LLM condenses the question."""

from __future__ import annotations

import re

from bot.answer_types import Turn
from bot.keyword import has_chinese

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


def looks_like_followup(question: str) -> bool:
    """Pronouns, "还有/那…呢" openers, or a question too short to stand alone."""
    q = question.strip()
    return len(q) <= 12 or (len(q) <= 40 and bool(_FOLLOWUP_HINTS.search(q)))


def rule_rewrite(question: str, history: list[Turn]) -> str:
    """Extractive mode's rewrite: a follow-up is searched with the previous user question."""
    users = [t.content for t in history if t.role == "user"]
    if not users or not looks_like_followup(question):
        return question
    return f"{users[-1].strip()} {question.strip()}"


def language_of(text: str) -> str:
    return "zh" if has_chinese(text) else "en"
