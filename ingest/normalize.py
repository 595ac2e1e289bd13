"""Turn newspaper-column text into clean paragraphs with roles, sections and character spans."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.text.width import clean_line, join_lines

# Each role is kept in chunk metadata; only body and caption paragraphs become chunks.
ROLES = ("title", "subtitle", "body", "caption", "byline")

_INDENT = (" ", "\t", "\u3000", "\xa0")
_TERMINAL = "。！？；…!?.:：”’」』）)"
_DASHES = re.compile(r"^[—\-–―]{2,}\s*")
_BYLINE = re.compile(
    r"^(?P<body>.*[。！？；…”’」』）)])\s*[（(](?P<name>[\u4e00-\u9fff·]{2,8})[）)]$"
)
_BYLINE_ALONE = re.compile(r"^[（(](?P<name>[\u4e00-\u9fff·]{2,8})[）)]$")


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of the normalised text; text == NormalizedDoc.text[char_start:char_end]."""

    index: int
    role: str
    section: int
    char_start: int
    char_end: int
    text: str
    author: str | None = None


@dataclass(frozen=True)
class NormalizedDoc:
    """Normalised text (paragraphs joined by one newline) and its paragraphs."""

    text: str
    paragraphs: tuple[Paragraph, ...]
    title: str | None
    subtitle: str | None
    author: str | None


def normalize(raw: str, title: str | None = None, subtitle: str | None = None) -> NormalizedDoc:
    """Join lines broken inside paragraphs, keep paragraph boundaries, and mark roles."""
    drafts = _paragraphs(raw.replace("\r\n", "\n").replace("\r", "\n"), title)
    paragraphs: list[Paragraph] = []
    pieces: list[str] = []
    offset = 0
    for i, (role, section, text, author) in enumerate(drafts):
        if pieces:
            offset += 1  # the joining newline
        paragraphs.append(Paragraph(i, role, section, offset, offset + len(text), text, author))
        pieces.append(text)
        offset += len(text)
    found_title = next((p.text for p in paragraphs if p.role == "title"), None)
    found_subtitle = next((p.text for p in paragraphs if p.role == "subtitle"), None)
    author = next((p.author for p in paragraphs if p.role == "byline"), None)
    return NormalizedDoc(
        text="\n".join(pieces),
        paragraphs=tuple(paragraphs),
        title=title or found_title,
        subtitle=subtitle or found_subtitle,
        author=author,
    )


def _paragraphs(raw: str, title: str | None) -> list[tuple[str, int, str, str | None]]:
    """Group lines into (role, section, text, author) paragraphs."""
    groups: list[list[object]] = []  # [role, section, text]
    section = 0
    blank = False
    for line in raw.split("\n"):
        if not line.strip(" \t\u3000\xa0"):
            blank = True
            continue
        indented = line.startswith(_INDENT)
        text = clean_line(line)
        prev = groups[-1] if groups else None
        prev_text = str(prev[2]) if prev else ""
        continues = (
            prev is not None
            and not indented
            and not text.startswith("▲")
            and not _DASHES.match(text)
            and not (prev[0] == "title")
            and not (blank and (prev_text.endswith(tuple(_TERMINAL)) or len(prev_text) < 12))
        )
        if continues and prev is not None:
            prev[2] = join_lines(prev_text, text)
        else:
            if prev is not None and blank:
                section += 1
            role = "body"
            if text.startswith("▲"):
                role = "caption"
            elif prev is None and _is_title(text, title):
                role = "title"
            elif prev is not None and prev[0] == "title" and _DASHES.match(text):
                role, text = "subtitle", _DASHES.sub("", text)
            groups.append([role, section, text])
        blank = False
    return _split_bylines(groups)


def _is_title(text: str, title: str | None) -> bool:
    """The first line is the title when it equals the known title, or looks like a headline."""
    if title is not None:
        return text == clean_line(title)
    return len(text) <= 40 and not text.endswith(tuple(_TERMINAL))


def _split_bylines(groups: list[list[object]]) -> list[tuple[str, int, str, str | None]]:
    """Split a closing signature like '（王敏）' into its own paragraph; credit its section."""
    out: list[tuple[str, int, str, str | None]] = []
    shift = 0
    for role, section, text in groups:
        sec = int(str(section)) + shift
        body = str(text)
        alone = _BYLINE_ALONE.match(body)
        signed = _BYLINE.match(body) if role == "body" else None
        if alone:
            out.append(("byline", sec, body, alone["name"]))
        elif signed:
            out.append((str(role), sec, signed["body"], None))
            out.append(("byline", sec, body[len(signed["body"]) :].strip(), signed["name"]))
        else:
            out.append((str(role), sec, body, None))
            continue
        shift += 1  # a signature closes its section
    authors = {sec: name for role, sec, _, name in out if role == "byline"}
    return [(r, s, t, authors.get(s)) for r, s, t, _ in out]
