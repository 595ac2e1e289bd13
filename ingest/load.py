"""Read .txt, .md, .html, .pdf and .docx files into text plus metadata, detecting the encoding."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import yaml

logger = logging.getLogger(__name__)

SUPPORTED_EXTENSIONS = (".txt", ".md", ".html", ".htm", ".pdf", ".docx")
# A knowledge folder describes itself in this file (see assistant.profile); it is not an article.
PROFILE_FILE = "profile.toml"


class LoadError(Exception):
    """A file cannot be turned into text; the message is the reason shown in the ingest summary."""


@dataclass(frozen=True)
class LoadedFile:
    """The text of one file and what is known about it."""

    path: Path
    text: str
    raw_hash: str
    metadata: dict[str, str] = field(default_factory=dict)


def load_file(path: Path, max_bytes: int) -> LoadedFile:
    """Load one file; raise LoadError with a one-line reason when it cannot be used."""
    if not path.exists():
        if path.is_symlink():
            raise LoadError("a link that leads nowhere (its target is missing, or a loop)")
        raise LoadError("no such file")
    if not path.is_file():
        raise LoadError("not a regular file")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise LoadError(
            f"unsupported file type {suffix or '(none)'}; "
            f"supported: {', '.join(SUPPORTED_EXTENSIONS)}"
        )
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise LoadError(f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB limit")
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(f"cannot read file ({exc.strerror or type(exc).__name__})") from None
    if not data.strip():
        raise LoadError("file is empty")
    raw_hash = hashlib.sha256(data).hexdigest()
    if suffix in (".txt", ".md"):
        text, metadata = split_front_matter(decode_text(data))
    elif suffix in (".html", ".htm"):
        text, metadata = _html_text(decode_text(data))
    elif suffix == ".pdf":
        text, metadata = _pdf_text(path)
    else:
        text, metadata = _docx_text(path)
    if not text.strip():
        raise LoadError("no text found in file")
    return LoadedFile(path=path, text=text, raw_hash=raw_hash, metadata=metadata)


def decode_text(data: bytes) -> str:
    """Decode bytes as UTF-8 (with or without BOM), else the detected encoding (GB18030, Big5…)."""
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise LoadError("binary content, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise LoadError("undecodable bytes: not UTF-8, GB18030/GBK, Big5 or another known encoding")
    encoding = best.encoding
    # charset-normalizer often names a narrower Chinese code page (gb2312, gbk); GB18030 is a
    # superset of both, so decode with it to keep rare characters.
    if encoding.replace("_", "").lower() in ("gb2312", "gbk", "hz"):
        encoding = "gb18030"
    text = data.decode(encoding, errors="strict")
    if _looks_like_garbage(text):
        raise LoadError("undecodable bytes: the content does not look like text")
    logger.debug("decoded as %s", encoding)
    return text


def _looks_like_garbage(text: str) -> bool:
    sample = text[:5000]
    if not sample:
        return True
    bad = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\t\n\r\f") or ch == "\ufffd")
    return bad / len(sample) > 0.02


def split_front_matter(text: str) -> tuple[str, dict[str, str]]:
    """Split YAML front matter (between '---' lines at the top) from the body."""
    if not text.startswith("---"):
        return text, {}
    lines = text.splitlines(keepends=True)
    if lines[0].strip() != "---":
        return text, {}
    for i in range(1, len(lines)):
        if lines[i].strip() == "---":
            try:
                meta = yaml.safe_load("".join(lines[1:i])) or {}
            except yaml.YAMLError as exc:
                raise LoadError(f"invalid front matter: {str(exc).splitlines()[0]}") from None
            if not isinstance(meta, dict):
                raise LoadError("invalid front matter: expected 'key: value' lines")
            return "".join(lines[i + 1 :]), {str(k): str(v) for k, v in meta.items()}
    return text, {}


def _html_text(html: str) -> tuple[str, dict[str, str]]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    meta: dict[str, str] = {}
    if soup.title and soup.title.string:
        meta["title"] = soup.title.string.strip()
        soup.title.decompose()
    blocks = [
        el.get_text(" ", strip=True)
        for el in soup.find_all(["h1", "h2", "h3", "h4", "p", "li", "blockquote", "figcaption"])
    ]
    text = "\n".join("　　" + b for b in blocks if b)
    if not text.strip():
        text = soup.get_text("\n", strip=True)
    return text, meta


def _pdf_text(path: Path) -> tuple[str, dict[str, str]]:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(str(path))
        # Many PDFs are encrypted with an empty user password (only editing is restricted):
        # those are read; one that needs a password to open is reported as such.
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError("encrypted PDF that needs a password; save a copy without one")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
    except (FileNotDecryptedError, DependencyError):
        reason = "encrypted PDF that cannot be decrypted; save a copy without a password"
        raise LoadError(reason) from None
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise LoadError(f"not a readable PDF: {_first_line(exc)}") from None
    meta = {"title": str(info.title)} if info is not None and info.title else {}
    return "\n".join(pages), meta


def _docx_text(path: Path) -> tuple[str, dict[str, str]]:
    import zipfile

    from docx import Document
    from docx.opc.exceptions import PackageNotFoundError
    from lxml.etree import XMLSyntaxError

    try:
        doc = Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError):
        raise LoadError("not a readable DOCX (not a Word document package)") from None
    except XMLSyntaxError as exc:
        raise LoadError(f"not a readable DOCX (damaged XML: {_first_line(exc)})") from None
    meta = {"title": doc.core_properties.title} if doc.core_properties.title else {}
    paragraphs = [p.text.strip() for p in doc.paragraphs if p.text.strip()]
    return "\n".join("　　" + p for p in paragraphs), meta


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:120] if text else type(exc).__name__
