"""Errors a user can act on: the CLI prints them as one line and exits non-zero."""

from __future__ import annotations

from typing import Any


class UserError(Exception):
    """A problem with input, corpus or index that the user can fix; the message says how."""


class IndexMismatchError(UserError):
    """The index on disk was built with other settings than the ones in use."""


class StoreUnavailableError(UserError):
    """The vector store (a `chroma run` server) did not answer; the server retries by itself."""


class IndexBusyError(UserError):
    """Another process holds the embedded index's build lock (`index`, `doc-add`); the server's
    background re-index waits and tries again."""


class IndexCorruptError(UserError):
    """The embedded index cannot be opened (damaged files); `index --rebuild` sets it aside."""


class ModelDown(UserError):
    """The local model's worker process is not serving (it died, is restarting, or is busy for too
    long); the answerer falls back to the extractive answer and says so."""


def error_body(message: str, kind: str = "invalid_request_error", code: str | None = None) -> dict[str, Any]:
    """One error shape for every HTTP endpoint and middleware; it is also what OpenAI clients expect."""
    return {"error": {"message": message, "type": kind, "code": code}}
