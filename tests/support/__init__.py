"""What the tests share: paths, the hashing embedder (fakes), real servers on loopback (servers),
and the llama-cpp-python stand-in that crashes on purpose (standins)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTICLE = ROOT / "corpus" / "qingshan-article.md"
