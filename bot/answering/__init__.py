"""Stage 4: from passages to a cited, verified answer: sentence picking, extractive answers,
prompting, verification, follow-ups, the injection guard, and the one answering service.

Imports the stages above it; knows nothing of evaluation or adapters.
"""
