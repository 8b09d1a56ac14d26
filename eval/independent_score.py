#!/usr/bin/env python3
"""An independent accuracy scorer: standard library only, shares no code with bot/.

It re-reads the question file and an answers file (`ask --json` lines) and applies the rule of
eval/README.md from scratch, so `qingshan-bot eval` can be checked against it:

    python eval/independent_score.py eval/qingshan.jsonl out/eval/answers.jsonl
"""

import json
import sys
import unicodedata


def norm(s):
    s = unicodedata.normalize("NFKC", s).lower()
    return "".join(ch for ch in s if ch.isalnum())


def correct(q, a):
    if q.get("answerable", True) is False:
        return bool(a.get("refused"))
    if a.get("refused"):
        return False
    text = norm(a.get("answer") or "")
    groups = q.get("must") or []
    hit = 0
    for group in groups:
        if any(norm(x) and norm(x) in text for x in group):
            hit += 1
    need = q.get("min_groups")
    need = len(groups) if need is None else min(need, len(groups))
    return hit >= need


def main(questions_path, answers_path):
    with open(questions_path, encoding="utf-8") as fh:
        questions = [json.loads(x) for x in fh if x.strip()]
    with open(answers_path, encoding="utf-8") as fh:
        answers = {str(a["id"]): a for a in (json.loads(x) for x in fh if x.strip())}
    answerable = [q for q in questions if q.get("answerable", True) is not False and str(q["id"]) in answers]
    right = sum(correct(q, answers[str(q["id"])]) for q in answerable)
    accuracy = right / len(answerable) if answerable else 0.0
    print(json.dumps({"answerable": len(answerable), "correct": right, "accuracy": round(accuracy, 4)}))
    return accuracy


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
