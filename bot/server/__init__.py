"""Stage 6, an adapter: one FastAPI app serving the chat page (Gradio), the widget, and the HTTP API.

Thin: it validates at the edge, calls the answering service, and formats.
"""
