"""qingshan-bot: cited question answering over a folder of Chinese documents.

Data flows one way, a package per stage: core -> models -> ingest -> retrieval -> answering ->
evaluation -> server (and the CLI over all of them); devtools holds benchmarks and load tests.
Heavy libraries (torch, sentence-transformers, chromadb, gradio) are imported lazily inside the
functions that need them, so that `qingshan-bot --help` starts instantly.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("qingshan-bot")  # one version: the package's, from pyproject.toml
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
