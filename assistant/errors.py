"""The assistant layer's errors; each message says what to do next and is shown as one line."""

from ingest.errors import UserError


class AssistantError(UserError):
    """A problem of the assistant the user can act on (the CLI prints it, exit code 2)."""


class SettingsError(AssistantError):
    """An ASSISTANT_* setting has an invalid value."""


class ProfileError(AssistantError):
    """The knowledge base's profile file is unreadable or malformed."""


class ModelNotFoundError(AssistantError):
    """The embedding (or reranker) model cannot be loaded from a local name or path."""


class InvalidQuestionError(AssistantError):
    """The question is empty, too long or otherwise unusable."""


class LLMError(AssistantError):
    """The OpenAI-compatible endpoint failed, timed out or is unreachable."""
