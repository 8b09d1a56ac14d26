"""Stage 2: documents in: loading and cleaning a corpus folder, chunking with exact offsets.

Imports only `bot.core`.
"""
