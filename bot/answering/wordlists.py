"""Word lists the answering rules use, kept as data files beside this module (`data/*.txt`).

One entry a line; `#` starts a comment. They hold general Chinese (and English) words, never one
corpus's names: a deployment with its own vocabulary edits the files, not the code.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

DATA = Path(__file__).parent / "data"


@cache
def words(name: str) -> tuple[str, ...]:
    """The entries of `data/<name>.txt`, in file order."""
    out = []
    for line in (DATA / f"{name}.txt").read_text(encoding="utf-8").splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            out.append(entry)
    return tuple(out)


def alternation(name: str) -> str:
    """The list as a regex alternation, longest entry first (so 研究院 wins over 研究)."""
    return "|".join(re.escape(w) for w in sorted(words(name), key=len, reverse=True))


@cache
def pairs(name: str) -> dict[str, str]:
    """`data/<name>.txt` lines of `key<TAB>regex`: an attribute and the ways a text states it."""
    out = {}
    for entry in words(name):
        key, _, value = entry.partition("\t")
        out[key.strip()] = value.strip()
    return out
