"""Development tools, not product: benchmarks, load tests, screenshots.

Runnable from the CLI; nothing in the product imports them.
"""
