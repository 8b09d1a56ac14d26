"""Stage 0, shared by every other: the one settings object, errors, the offline guard, text helpers.

Imports nothing else from `bot`.
"""
