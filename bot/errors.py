"""Errors a user can act on: the CLI prints them as one line and exits non-zero."""


class UserError(Exception):
    """A problem with input, corpus or index that the user can fix; the message says how."""


class IndexMismatchError(UserError):
    """The index on disk was built with other settings than the ones in use."""


class StoreUnavailableError(UserError):
    """The vector store (a `chroma run` server) did not answer; the server retries by itself."""


class IndexCorruptError(UserError):
    """The embedded index cannot be opened (damaged files); `index --rebuild` sets it aside."""
