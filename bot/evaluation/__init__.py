"""Stage 5: scoring answers against question sets, retrieval metrics, charts, CMRC conversion,
and feedback turned into evaluation cases.

Imports the stages above it; the answerer never imports this.
"""
