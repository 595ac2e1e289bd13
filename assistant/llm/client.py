"""Transport to an OpenAI-compatible chat endpoint: streamed completions, one-line errors."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, cast

from assistant.errors import LLMError

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

API_KEY_ENV = "ASSISTANT_LLM_API_KEY"


class ChatClient:
    """Streams chat completions; the API key is read from the environment at each call and
    never stored or logged."""

    def __init__(self, base_url: str, model: str, timeout: float) -> None:
        self.base_url = base_url
        self.shown_url = redact_url(base_url)  # what messages and logs may show
        self.model = model
        self.timeout = timeout

    def complete(
        self, messages: list[dict[str, str]], max_tokens: int, stop: list[str] | None = None
    ) -> Iterator[str]:
        """The reply as it is generated (temperature 0); LLMError when the endpoint fails."""
        from openai import OpenAI, OpenAIError

        deadline = time.monotonic() + self.timeout
        try:
            with OpenAI(
                base_url=self.base_url,
                api_key=os.environ.get(API_KEY_ENV) or "not-needed",
                timeout=self.timeout,
                max_retries=0,
            ) as client:
                stream = client.chat.completions.create(
                    model=self.model,
                    messages=cast("list[ChatCompletionMessageParam]", messages),
                    temperature=0,
                    max_tokens=max_tokens,
                    stop=stop,
                    stream=True,
                )
                with stream:
                    for chunk in stream:
                        if time.monotonic() > deadline:
                            raise LLMError(self._timeout_message("to finish its answer"))
                        delta = chunk.choices[0].delta.content if chunk.choices else None
                        if delta:
                            yield delta
        except LLMError:
            raise
        except (OpenAIError, OSError, ValueError) as exc:
            raise LLMError(self.describe(exc)) from exc
        except Exception as exc:  # transport errors raised while reading the stream
            if type(exc).__module__.startswith(("httpx", "httpcore")):
                raise LLMError(self.describe(exc)) from exc
            raise

    def _timeout_message(self, what: str) -> str:
        return (
            f"LLM endpoint {self.shown_url} took longer than {self.timeout:g} s {what}; "
            "check that the server is running and not overloaded, or raise ASSISTANT_LLM_TIMEOUT"
        )

    def describe(self, exc: BaseException) -> str:
        """One actionable line for a failed call (never the API key)."""
        import openai

        if isinstance(exc, openai.APITimeoutError) or "Timeout" in type(exc).__name__:
            return self._timeout_message("to answer")
        if isinstance(exc, openai.APIStatusError):
            detail = one_line(str(getattr(exc, "message", "") or exc))
            return (
                f"LLM endpoint {self.shown_url} answered HTTP {exc.status_code} for model "
                f"{self.model!r}: {detail}; check ASSISTANT_LLM_MODEL and ASSISTANT_LLM_API_KEY"
            )
        if isinstance(exc, openai.APIConnectionError | OSError) or "Connect" in type(exc).__name__:
            cause = type(exc.__cause__ or exc).__name__
            return (
                f"LLM endpoint {self.shown_url} is unreachable ({cause}); check "
                "ASSISTANT_LLM_BASE_URL or unset it to use the extractive answerer"
            )
        return (
            f"LLM endpoint {self.shown_url} failed ({type(exc).__name__}: "
            f"{one_line(str(exc))}); check that it is an OpenAI-compatible chat endpoint"
        )


def redact_url(url: str) -> str:
    """The URL without its user:password@ part (the endpoint's credentials)."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparsable URL)"
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def one_line(text: str, limit: int = 160) -> str:
    """Whitespace collapsed, cut to `limit` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
