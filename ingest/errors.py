"""The ingest layer's errors. `UserError` is the base of every layer's errors that a user can act
on: the CLI shows one as a single line ("Error: …") with exit code 2, the chat as a message."""


class UserError(Exception):
    """A problem the user can act on; the message says what to do next."""


class NoIndexError(UserError):
    """No index has been built yet."""


class IndexMismatchError(UserError):
    """The index was built with another embedding model or chunking than the current settings."""


class ChromaUnavailableError(UserError):
    """The Chroma server named by CHROMA_HOST/CHROMA_PORT cannot be reached."""


class StoreDamagedError(UserError):
    """The index's files cannot be opened (damaged): it must be rebuilt."""
