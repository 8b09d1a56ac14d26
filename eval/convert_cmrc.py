#!/usr/bin/env python3
"""Convert a CMRC 2018 split into a corpus folder and a question file (see bot/evaluation/cmrc.py):

    python eval/convert_cmrc.py ../shared/benchmarks/cmrc2018/cmrc2018_trial.json out/cmrc
    qingshan-bot eval --questions out/cmrc/questions.jsonl --corpus out/cmrc/corpus \\
        --index out/cmrc/index --mode extractive --out out/cmrc/eval-extractive

The dataset (CC BY-SA 4.0) is read where it lies and never copied into the repo.
"""

import sys
from pathlib import Path

from bot.evaluation.cmrc import convert

if __name__ == "__main__":
    docs, questions = convert(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"{docs} documents, {questions} questions -> {sys.argv[2]}")
