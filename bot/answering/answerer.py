"""The answering service every adapter calls: question (+ history) -> cited `Answer`.

Steps: validate, decline injections, rewrite follow-ups, retrieve, then either compose an
extractive answer or ask an LLM with the best sentences and verify its draft. A draft with no
supported sentence falls back to the extractive answer; a refusal points at what the text
does say nearby.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bot.answering import constraints
from bot.answering.conversation import (
    bound_history,
    language_of,
    looks_like_followup,
    rule_rewrite,
    unresolved,
    wants_more,
)
from bot.answering.extractive import Pick, SentencePicker, is_confirmation, missing_fact_in, text_order
from bot.answering.guard import DECLINE_EN, DECLINE_ZH, is_injection
from bot.answering.parts import leans_back, split_parts
from bot.answering.prompting import answer_messages, condense_messages, translate_messages
from bot.answering.sentences import Sentence, joined, overlap, overlaps
from bot.answering.structure import count_of_titles
from bot.answering.types import MODEL_DOWN, REFUSAL_ZH, Answer, Citation
from bot.answering.verify import Verifier, is_refusal
from bot.core.errors import ModelDown, UserError
from bot.core.jsonl import Turn
from bot.core.settings import Settings
from bot.core.text import strip_markers
from bot.models.llm import ChatBackend, Message, local_available, local_backend, openai_backend
from bot.retrieval.keyword import has_chinese
from bot.retrieval.retriever import Passage, Retriever

log = logging.getLogger(__name__)

MODES = ("auto", "local", "openai", "extractive")
# Share of a rewrite's words taken from the previous answer past which it restates that answer.
RESTATES = 0.5


class Answerer:
    def __init__(
        self,
        settings: Settings,
        retriever: Retriever | None = None,
        backends: dict[str, ChatBackend] | None = None,
    ) -> None:
        self.settings = settings
        self.retriever = retriever or Retriever(settings)
        self.picker = SentencePicker(self.retriever)
        self._backends: dict[str, ChatBackend] = dict(backends or {})
        self.broken: dict[str, str] = {}  # mode -> why `auto` skips it
        self._lock = threading.Lock()

    # -- modes --------------------------------------------------------------------------------
    def resolve_mode(self, mode: str | None = None) -> str:
        mode = mode or self.settings.mode
        if mode not in MODES:
            raise UserError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        if mode != "auto":
            return mode
        if "local" not in self.broken and ("local" in self._backends or local_available(self.settings)):
            try:
                self.backend("local")  # loads the model once; a damaged file fails here
                return "local"
            except UserError as exc:
                # `auto` promises an answer: a broken local model means the next mode, said once.
                self.broken["local"] = str(exc)
                log.warning("local model unusable, auto falls back: %s", exc)
        if "openai" in self._backends or self.settings.openai_base_url:
            return "openai"
        return "extractive"

    def backend(self, mode: str) -> ChatBackend:
        with self._lock:
            if mode not in self._backends:
                self._backends[mode] = (
                    local_backend(self.settings) if mode == "local" else openai_backend(self.settings)
                )
            return self._backends[mode]

    def warm_up(self, mode: str | None = None) -> str:
        self.retriever.warm_up()
        resolved = self.resolve_mode(mode)
        self.picker.warm()
        constraints.warm()  # the tagger's dictionary, about a second, not on the first question
        if resolved != "extractive":
            # Evaluates the fixed system prompt once, so its KV state is cached for users (a
            # worker process primes itself again after every restart).
            backend = self.backend(resolved)
            messages = answer_messages("你好", [], "zh")
            prime = getattr(backend, "prime", None)
            if prime is not None:
                prime(messages)
            else:
                list(backend.stream(messages, max_tokens=1))
        return resolved

    def down(self, mode: str) -> str | None:
        """Why `mode`'s model cannot answer right now (its worker died and is restarting), or None."""
        if mode == "extractive":
            return None
        return getattr(self.backend(mode), "down", None)

    # -- answering ------------------------------------------------------------------------------
    def answer(self, question: str, history: list[Turn] | None = None, mode: str | None = None) -> Answer:
        final: Answer | None = None
        for item in self.stream(question, history, mode):
            if isinstance(item, Answer):
                final = item
        assert final is not None
        return final

    def stream(
        self, question: str, history: list[Turn] | None = None, mode: str | None = None
    ) -> Iterator[str | Answer]:
        """Text deltas, then the final `Answer`. Deltas are verified sentences, never raw draft.

        `question` is already clean (`bot.core.text.clean_question`): each adapter validates once,
        at its edge, so a bad request is refused before anything streams."""
        t0 = time.perf_counter()
        q = question
        if not q.strip():
            raise UserError("the question is empty")
        turns = bound_history(list(history or []), self.settings.history_max_turns, self.settings.history_max_chars)
        resolved = self.resolve_mode(mode)
        lang = language_of(q)
        if is_injection(q):
            text = DECLINE_EN if lang == "en" else DECLINE_ZH
            yield text
            yield Answer(q, text, [], True, resolved, q, [], _timings(t0, 0.0, t0))
            return
        down = self.down(resolved)
        try:
            rewritten = rule_rewrite(q, turns) if down else self._rewrite(q, turns, resolved)
        except ModelDown as exc:  # died while rewriting: the rule rewrites, extractive answers
            down, rewritten = str(exc), rule_rewrite(q, turns)
        t_r = time.perf_counter()
        passages = self.retriever.search(rewritten, k=self.settings.top_k)
        retrieve_ms = (time.perf_counter() - t_r) * 1000
        said = next((t.content for t in reversed(turns) if t.role == "assistant"), "")
        avoid = said if wants_more(q) else ""
        parts = split_parts(q) if lang == "zh" else [q]
        if len(parts) > 1 and (whole := self._by_parts(q, rewritten, parts, passages)):
            # The model would have to keep several facts apart; quoted part by part, each is cited.
            yield from _whole(whole, f"{len(parts)} parts, each answered extractively", t0, retrieve_ms)
            return
        if resolved == "extractive" or down:
            ans = self._extractive(q, rewritten, passages, avoid, lang)
            if down:
                _mark_down(ans, down, lang)
            ans.timings = _timings(t0, retrieve_ms, time.perf_counter())
            yield ans.text
            yield ans
            return
        yield from self._generate(q, rewritten, passages, avoid, lang, resolved, t0, retrieve_ms)

    def _rewrite(self, q: str, turns: list[Turn], mode: str) -> str:
        """The question to search with: a follow-up with the question before it (an English one
        condensed by the model), an English question translated.
        The user's own words are kept beside a rewrite: it helps retrieval, it must not replace it."""
        if mode == "extractive" or language_of(q) == "zh":
            # A Chinese follow-up is searched as extractive mode searches it, with no model call.
            # The model's rewrite drifts ("它的定义是什么" after "棱柱是什么" became "棱柱的定义
            # 是什么" and found 斜棱柱): of the article's 15 follow-ups the rule answered 13 and
            # the model 11; of CMRC dev's 238 local mode answered 206 with the rule, 204 with it.
            return rule_rewrite(q, turns)
        standalone = self._condense(q, turns, mode) if turns and looks_like_followup(q) else q
        query = standalone if q in standalone else f"{standalone} {q}"
        if language_of(standalone) == "en":
            # The standalone question alone: given the user's words too, the model translated
            # "What has it achieved?" and lost the name the rewrite had put in.
            zh = self._short(mode, translate_messages(standalone))
            if has_chinese(zh):
                return f"{zh} {query}"
        return query

    def _condense(self, q: str, turns: list[Turn], mode: str) -> str:
        rewritten = self._short(mode, condense_messages(q, turns))
        said = next((t.content for t in reversed(turns) if t.role == "assistant"), "")
        # An unchanged question, one that restates the previous answer (whose words then choose
        # what was already said), or one still saying "这个项目" is no rewrite: measured on the
        # 15 follow-ups, the rule answered 13 and the model's rewrite 11.
        if not rewritten or rewritten == q or (said and overlap(rewritten, said) >= RESTATES) or unresolved(rewritten):
            return rule_rewrite(q, turns)
        return rewritten

    def _short(self, mode: str, messages: list[Message]) -> str:
        """A one-line model reply (a rewrite or a translation); "" when unusable."""
        draft = "".join(self.backend(mode).stream(messages, max_tokens=80)).strip()
        line = re.sub(r"^(改写后的问题|问题|中文|译文)[:：]\s*", "", draft.splitlines()[0].strip()) if draft else ""
        return line if len(line) <= 200 else ""

    def _extractive(
        self, q: str, rewritten: str, passages: list[Passage], avoid: str, lang: str, pick: Pick | None = None
    ) -> Answer:
        pick = pick or self.picker.pick(rewritten, passages, avoid, q)
        if pick.refused:
            return self._refusal(q, rewritten, passages, pick.sentences, lang, "extractive", pick.unnamed)
        body, citations = _quoted(pick.sentences)
        said = "".join(s.text for s in pick.sentences)
        if lang == "zh" and (count := count_of_titles(q, pick.sentences, said)):
            body = f"{count[0]}[{pick.sentences.index(count[1]) + 1}]{body}"
        text = f"The article says (quoted in Chinese): {body}" if lang == "en" else body
        return Answer(q, text, citations, False, "extractive", rewritten, passages)

    def _by_parts(self, q: str, rewritten: str, parts: list[str], passages: list[Passage]) -> Answer | None:
        """Each part retrieved and picked on its own; the answer quotes the sentences of every
        part the text holds and names the parts it does not. None when it holds none."""
        picked: list[Sentence] = []
        missing: list[str] = []
        asked = 0  # parts that ask for a fact; a yes/no check alone is no answer ("获批了吗？是哪年？")
        for i, part in enumerate(parts):
            # A part that leans on the one before ("……获批了吗？是哪年批的？") is searched with it.
            query = f"{parts[i - 1]}{part}" if i and leans_back(part) else part
            pool = _merged(passages, self.retriever.search(query, k=self.settings.top_k))
            # A later part asks something else: what earlier parts were answered with counts
            # against a sentence, as for "还有呢？" (on CMRC dev `multi` +4 questions, -1).
            pick = self.picker.pick(query, pool, "".join(s.text for s in picked), part)
            if pick.refused:
                missing.append(part.rstrip("？?"))
                continue
            asked += not is_confirmation(part)
            # Sentences apart (quoting joins neighbours), each once: parts often share one.
            picked += [s for s in text_order(pick.best_first) if not any(overlaps(s, p) for p in picked)]
        if not asked:
            return None
        text, citations = _quoted(picked)
        if missing:
            text += f"{REFUSAL_ZH}：{'；'.join(missing)}。"
        return Answer(q, text, citations, False, "extractive", rewritten, passages)

    def _refusal(
        self,
        q: str,
        rewritten: str,
        passages: list[Passage],
        near: list[Sentence],
        lang: str,
        mode: str,
        unnamed: tuple[str, ...] = (),
    ) -> Answer:
        """Says what the text lacks (the names it never mentions, when that is why) and what it
        does say nearby."""
        if not near and passages:
            near = [s for s, _ in self.picker.rank(rewritten, passages)[:1]]
        if lang == "en":
            text = "The article does not mention this."
            if near:
                text += f" The closest it says is: {near[0].text}[1]"
        else:
            text = f"{REFUSAL_ZH}{'、'.join(f'“{n}”' for n in unnamed) if unnamed else '这一信息'}。"
            if near:
                text += f"文中相关的内容是：{near[0].text}[1]"
        citations = [_citation(1, near[0])] if near else []
        return Answer(q, text, citations, True, mode, rewritten, passages)

    def _generate(
        self,
        q: str,
        rewritten: str,
        passages: list[Passage],
        avoid: str,
        lang: str,
        mode: str,
        t0: float,
        retrieve_ms: float,
    ) -> Iterator[str | Answer]:
        # The checker, not the model, decides whether the text answers: on the bench questions
        # the 1.5B model refused 10 of 24 answerable ones and invented a founding year for an
        # unanswerable one, while the sentence check refused exactly the unanswerable ones. So a
        # refusal costs no LLM call, and the model sees only the sentences that hold the fact:
        # a prompt of ~60-200 tokens instead of ~290, which is most of the user's wait.
        pick = self.picker.pick(rewritten, passages, avoid, q)
        if pick.refused:
            why = f"the passages do not hold what was asked ({pick.reason}); no LLM call"
            refusal = self._refusal(q, rewritten, passages, pick.sentences, lang, mode, pick.unnamed)
            yield from _whole(refusal, why, t0, retrieve_ms)
            return
        if is_confirmation(q):
            # A yes/no check is answered by quoting what the text says, which confirms or
            # corrects it: the 1.5B model said "是的" to 4 of 11 false premises, and a yes or
            # no cannot be checked against a sentence.
            ans = self._extractive(q, rewritten, passages, avoid, lang, pick)
            yield from _whole(ans, "a yes/no check: answered with the text's own sentences", t0, retrieve_ms)
            return
        context = self._context(pick, lang)
        # A list answer often opens with a header ("……包括以下几项：") that the text does not
        # support, so its sentences are shown a clause at a time, never a few characters.
        verifier = Verifier(context, self.picker.similarity, q, step=not pick.wants_list)
        draft = _Draft()
        yield from self._stream_draft(q, mode, context, lang, verifier, draft, t0)
        tail = draft.held + verifier.finish() + _completion(draft, verifier, pick, lang)
        if verifier.citations and (count := count_of_titles(q, context, draft.shown + tail)):
            tail += verifier.add_derived(*count)  # "几份协议？" answered with the titles, not their number
        checked = verifier.result()
        notes = [f"dropped unsupported: {d}" for d in checked.dropped if not is_refusal(d)]
        why = "" if draft.shown else _fallback_reason(draft, checked, mode, q)
        if why:
            # The picked sentences hold the fact (checked above), so they answer instead.
            ans = self._extractive(q, rewritten, passages, avoid, lang, pick)
            notes.append(f"{why}; answered extractively")
        else:
            ans = Answer(q, checked.text, checked.citations, False, mode, rewritten, passages)
        # Deltas always add up to the final text: when the draft was replaced (refusal,
        # extractive fallback) nothing of it had been shown, and the replacement comes whole.
        if not draft.shown:
            yield ans.text
        elif tail:
            yield tail
        ans.notes = notes
        if draft.died:
            _mark_down(ans, draft.died, lang)
        ans.timings = _timings(t0, retrieve_ms, time.perf_counter())
        if draft.shown and draft.first_ms is not None:
            ans.timings["first_token_ms"] = draft.first_ms
        yield ans

    def _context(self, pick: Pick, lang: str) -> list[Sentence]:
        """The sentences the model sees."""
        # A list or synthesis question gets every picked sentence; a single fact the best two
        # (measured on the 30 bench questions: no answer changed, and para-02's prompt fell from
        # 171 to 76 tokens, its first token from 2.7 to 1.5 s).
        cap = self.settings.context_sentences if pick.wants_list else self.settings.context_sentences_fact
        if not pick.wants_list and pick.clear_best and lang == "zh":
            # A sentence the ranking puts clearly first goes alone: given a runner-up too, the
            # model answered "where can a small factory get help" with the section's lead, not
            # the sentence naming the centre; alone, the prompt is shorter (150 questions: first
            # token p50 1.69 -> 1.52 s, accuracy unchanged). English questions are ranked by
            # similarity alone, which is weaker, so they keep two.
            cap = 1
        # A list keeps the text's order (its structure); a single fact's sentences go best first,
        # as the 1.5B model answers from [1] when it can (para-06 was answered from the sentence
        # before the one naming the component; best first, it named the component).
        return text_order(pick.best_first[:cap]) if pick.wants_list else pick.best_first[:cap]

    def _stream_draft(
        self, q: str, mode: str, context: list[Sentence], lang: str, verifier: Verifier, draft: _Draft, t0: float
    ) -> Iterator[str]:
        """Yields the model's draft as it is verified; what was shown and held is kept in `draft`."""
        try:
            for delta in self.backend(mode).stream(answer_messages(q, context, lang), self.settings.max_answer_tokens):
                draft.held += verifier.feed(delta)
                # A refusal is rewritten afterwards, so nothing of it is streamed; an answer to a
                # question asking for a kind of fact (a sum, a year…) is held until the verified
                # text has one, so what was shown is never replaced by a refusal.
                if (
                    draft.held
                    and not is_refusal(verifier.draft)
                    and not missing_fact_in(q, draft.shown + draft.held + _quotes(verifier.citations))
                ):
                    if draft.first_ms is None:
                        draft.first_ms = (time.perf_counter() - t0) * 1000
                    yield draft.held
                    draft.shown, draft.held = draft.shown + draft.held, ""
        except ModelDown as exc:
            # The model died mid-answer. What was shown is verified; the picked sentences, which
            # hold the fact, follow quoted, so the answer completes as the extractive one would.
            draft.died = str(exc)


@dataclass
class _Draft:
    """A model draft while it streams: the verified text shown, the text held back, and why the
    model stopped if it died."""

    shown: str = ""
    held: str = ""
    first_ms: float | None = None
    died: str | None = None


def _completion(draft: _Draft, verifier: Verifier, pick: Pick, lang: str) -> str:
    """What follows the model's verified text, quoted from the picked sentences, so the answer is
    never narrower than the extractive one."""
    if (draft.died and draft.shown) or verifier.cut:
        # The model died mid-answer, or a sentence ended at its verified head ("……"): the
        # sentences that hold the fact follow, quoted, so the answer is still there.
        return verifier.add_quotes(pick.sentences, " The text says: " if lang == "en" else "原文：")
    if verifier.citations and not draft.died:
        # The model restates; the text's own words follow, so the answer is never narrower than
        # the extractive one. On 100 CMRC dev questions the model's restatements lost the
        # expected words in 27 answers the extractive quote had right ("大久保笃" became
        # "久保笃"; "首4名" lost "每个小组"), 0 the other way round. A list is the same case: a
        # 1.5B model names the items of one sentence and drops the others' (7 of 13 list answers
        # lost an item the picked sentences held).
        said = strip_markers(verifier.result().text)
        lead = (" The text also says: " if lang == "en" else "原文还提到：") if pick.wants_list else None
        lead = lead or (" The text says: " if lang == "en" else "原文：")
        return verifier.add_quotes([s for s in pick.sentences if s.text not in said], lead)
    return ""


def _fallback_reason(draft: _Draft, checked: Any, mode: str, q: str) -> str:
    """Why nothing of the draft can stand (so the extractive answer does), or ''."""
    if draft.died:
        return draft.died
    if checked.refused:
        return f"the {mode} model refused, but the text answers it"
    if not checked.citations:
        return f"no supported sentence in the {mode} draft"
    if lacking := missing_fact_in(q, checked.text + _quotes(checked.citations)):
        return f"the {mode} answer did not contain what was asked ({lacking})"
    return ""


def _mark_down(ans: Answer, reason: str, lang: str) -> None:
    """The model was down for this answer: say so to the user, keep the reason for logs and CLI."""
    ans.notice = MODEL_DOWN["en" if lang == "en" else "zh"]
    ans.degraded = reason
    if reason not in " ".join(ans.notes):
        ans.notes.append(f"{reason}; answered extractively")


def _whole(ans: Answer, note: str, t0: float, retrieve_ms: float) -> Iterator[str | Answer]:
    """An answer decided without the model: its text in one delta, then the answer."""
    ans.notes = [note]
    ans.timings = _timings(t0, retrieve_ms, time.perf_counter())
    yield ans.text
    yield ans


def _merged(first: list[Passage], more: list[Passage]) -> list[Passage]:
    """Both result lists, each chunk once (its first place kept)."""
    seen = {p.chunk.id for p in first}
    return [*first, *(p for p in more if p.chunk.id not in seen)]


def _quotes(citations: list[Citation]) -> str:
    return "".join(c.quote for c in citations)


def _quoted(sentences: list[Sentence]) -> tuple[str, list[Citation]]:
    """Sentences quoted verbatim, each followed by its [n] marker, and their citations."""
    sentences = joined(sentences)
    citations = [_citation(i, s) for i, s in enumerate(sentences, 1)]
    return "".join(f"{s.text}[{i}]" for i, s in enumerate(sentences, 1)), citations


def _citation(n: int, s: Sentence) -> Citation:
    c = s.passage.chunk
    return Citation(n, c.id, c.doc_id, c.title, c.text, s.text, s.start, s.end, c.page_at(s.start))


def _timings(t0: float, retrieve_ms: float, t_end: float) -> dict[str, float]:
    total = (t_end - t0) * 1000
    return {"retrieve_ms": retrieve_ms, "first_token_ms": total, "total_ms": total}
