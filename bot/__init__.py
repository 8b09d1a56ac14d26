"""qingshan-bot: cited question answering over a folder of Chinese documents.

Data flows one way: corpus -> chunking -> index -> retrieval -> adapters (CLI, web).
Heavy libraries (torch, sentence-transformers, chromadb, gradio) are imported lazily
inside the functions that need them so that `qingshan-bot --help` starts instantly.
"""

__version__ = "0.1.0"
