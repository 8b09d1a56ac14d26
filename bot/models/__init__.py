"""Stage 1: the models: the embedder, the local LLM (in a supervised worker) and its backends,
and the pulling, building and verifying of their bytes.

Imports only `bot.core`.
"""
