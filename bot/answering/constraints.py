"""The names a question asks about, and whether the text an answer would cite names them.

A question that names someone, somewhere or something ("罗保铭", "海梅·雷耶斯", "GDP") is
answered only from documents that name it too. Otherwise the closest passage is about a
neighbour that shares the topic, and quoting it answers a question the corpus cannot answer.
This was the commonest way a removed paragraph still got an "answer".

The names come from jieba's part-of-speech tagger (`data/name_tags.txt`). jieba's dictionary
ships in its package, so nothing is downloaded. Its unknown-word model also finds names the
dictionary lacks.

A name counts as named when its characters appear in order with short gaps, so abbreviations
and fuller forms both match: "锂电池" is found in "锂离子电池", and "计算机学院" in
"计算机科学与技术学院".

Measured with `qingshan-bot eval-suite --split dev --mode extractive` against the code before it
(docs/evaluation.md#open-corpus-sets):
- missing-topic refusal went from 0.055 to 0.676, missing-fact from 0.033 to 0.153, and time
  from 0.889 to 1.000. Titles, codes and unknown terms added 7 of those missing-topic
  refusals.
- open accuracy went from 0.763 to 0.760, with false refusals from 0.023 to 0.029.
- the article's sets did not change (0.945 on dev, 0.977 held out, no false refusals).
"""

from __future__ import annotations

import logging
import re
from functools import cache, lru_cache
from typing import Any

from bot.answering.wordlists import words

_LATIN = re.compile(r"[A-Za-z][A-Za-z0-9]+")
# A title or a quoted term: 《千年女王》, “乡里制”, 「梦幻对决」.
_TITLED = re.compile(r"《([^》]{2,40})》|“([^”]{2,40})”|「([^」]{2,40})」")
# A model or line code: "T-92", "G115", "35M".
_CODE = re.compile(r"[A-Za-z]+-?\d+[A-Za-z]*|\d+[A-Za-z]+")


@cache
def _tagger() -> Any:
    # Imported on first use: loading the dictionary takes about a second, which a server pays
    # at warm-up and a CLI command that never answers does not pay at all.
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba.posseg


def warm() -> None:
    """Load the tagger's dictionary now rather than on the first question."""
    _tagger()


@lru_cache(maxsize=4096)
def names(question: str) -> tuple[str, ...]:
    """The names in a Chinese question, each once: titles and quoted terms, codes, then the
    words jieba tags as names or does not know at all."""
    found = ["".join(t) for t in _TITLED.findall(question)] + _CODE.findall(question)
    tagger = _tagger()
    known = tagger.dt.tokenizer.FREQ  # jieba's dictionary: word -> frequency
    tags = set(words("name_tags"))
    asking = words("question_words")
    before = ""
    for token in tagger.cut(question):
        word, flag = token.word.strip(), token.flag
        named = flag in tags or (flag == "eng" and _LATIN.fullmatch(word) is not None)
        # A noun of three or more characters that neither jieba's dictionary nor its tags know
        # is a term of art ("冠夫姓", "刺角瓜"): the text must use it too.
        named = named or (flag.startswith("n") and len(word) >= 3 and word not in known)
        # "哪位帝王" asks for a 帝王: the name after a question word is the answer's kind.
        fresh = not any(word in f for f in found)
        if named and len(word) >= 2 and fresh and not before.startswith(asking):
            found.append(word)
        before = word
    return tuple(dict.fromkeys(found))


def names_in(name: str, text: str) -> bool:
    """Whether `text` names `name` (lower-cased), allowing a shorter or a fuller form."""
    glue = words("name_glue")
    while True:
        if _in_order(name, text):
            return True
        if len(name) >= 2 and name[-1] in glue:
            name = name[:-1]  # "巴利冈是" -> "巴利冈": jieba glued a one-character word on
        else:
            return False
        if len(name) < 2:
            return True  # nothing left that could name anything


def unnamed(question: str, text: str) -> list[str]:
    """The question's names that `text` never mentions."""
    lower = text.lower()
    return [n for n in names(question) if not names_in(n.lower(), lower)]


def _in_order(name: str, text: str) -> bool:
    if name in text:
        return True
    if len(name) < 3:
        return False  # two characters apart would match by chance
    gap = f".{{0,{2 * len(name)}}}"  # "高新区" is short for "高新技术产业开发区"
    return re.search(gap.join(map(re.escape, name)), text) is not None
