"""The project's own errors; each message says what to do next and is shown as one line."""


class AssistantError(Exception):
    """Base class: a problem the user can act on (the CLI prints it as one line, exit code 2)."""


class SettingsError(AssistantError):
    """An ASSISTANT_* setting has an invalid value."""


class NoIndexError(AssistantError):
    """No index has been built yet."""


class IndexMismatchError(AssistantError):
    """The index was built with another embedding model or chunking than the current settings."""


class ModelNotFoundError(AssistantError):
    """The embedding (or reranker) model cannot be loaded from a local name or path."""


class ChromaUnavailableError(AssistantError):
    """The Chroma server named by CHROMA_HOST/CHROMA_PORT cannot be reached."""


class InvalidQuestionError(AssistantError):
    """The question is empty, too long or otherwise unusable."""


class LLMError(AssistantError):
    """The OpenAI-compatible endpoint failed, timed out or is unreachable."""


class IngestError(AssistantError):
    """Nothing could be ingested (for example the knowledge path does not exist)."""
