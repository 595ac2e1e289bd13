"""The eval layer's errors."""

from ingest.errors import UserError


class EvalError(UserError):
    """An eval input (dataset, thresholds, earlier report) is missing or malformed."""
