"""The knowledge base describes itself: its name, title, examples, English glossary and what is
known of each article (its date, outlet, title).

The profile is a TOML file beside the articles (ASSISTANT_PROFILE, default
<knowledge folder>/profile.toml). The code has no word of any one corpus: the same code serves
another archive by changing only the knowledge folder. Without a profile, neutral texts are used.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from assistant.errors import ProfileError
from ingest.text.dates import parse_date


class Examples(BaseModel):
    """Example questions shown to users, in Chinese and in English."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    zh: tuple[str, ...] = ()
    en: tuple[str, ...] = ()


class DocumentInfo(BaseModel):
    """What staff say of one article that its file does not: when and where it was published,
    and its title ([documents."file name"] in the profile)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    published: str = Field(default="", max_length=40)
    outlet: str = Field(default="", max_length=120)
    title: str = Field(default="", max_length=200)

    @field_validator("published")
    @classmethod
    def _a_date(cls, value: str) -> str:
        if value and not parse_date(value):
            raise ValueError(f"{value!r} is not a date; write it as 2021-09-28, 2021-09 or 2021")
        return parse_date(value) if value else ""

    def fields(self) -> dict[str, str]:
        """The fields given, for ingest."""
        return {k: v for k, v in self.model_dump().items() if v}


class KnowledgeProfile(BaseModel):
    """What the knowledge base is about, for the chat, the briefing and English questions."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(default="knowledge-base", pattern=r"^[\w.-]{1,60}$")
    title: str = Field(default="知识库问答", min_length=1, max_length=80)
    title_en: str = Field(default="Knowledge base assistant", min_length=1, max_length=80)
    description: str = Field(default="", max_length=400)
    licence: str = Field(default="", max_length=400)
    examples: Examples = Examples()
    # English name variants ('|'-separated) → the Chinese words the articles use for them.
    glossary: dict[str, tuple[str, ...]] = {}
    # Articles by file name (their path under the knowledge folder).
    documents: dict[str, DocumentInfo] = {}

    @property
    def heading(self) -> str:
        """The bilingual title, e.g. '海港新区简报问答 · Harbour district assistant'."""
        return f"{self.title} · {self.title_en}"

    @property
    def example_questions(self) -> list[str]:
        """The example questions, Chinese first."""
        return [*self.examples.zh, *self.examples.en]


def load_profile(path: Path) -> KnowledgeProfile:
    """Read a profile file; a missing file gives the neutral profile, a bad one a ProfileError."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return KnowledgeProfile()
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"cannot read the profile {path}: {type(exc).__name__}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"the profile {path} is not valid TOML: {exc}") from None
    try:
        return KnowledgeProfile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise ProfileError(f"the profile {path}: {where}: {first['msg']}") from None
