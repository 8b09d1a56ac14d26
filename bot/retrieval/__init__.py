"""Stage 3: the index and search: Chroma store, incremental indexer, BM25 keywords, hybrid retriever.

Imports `bot.core`, `bot.models`, `bot.ingest`.
"""
