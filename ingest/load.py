"""Read .txt, .md, .html, .pdf and .docx files into text plus metadata, detecting the encoding."""

from __future__ import annotations

import hashlib
import logging
import time
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
class ParseLimits:
    """What one file may expand to when parsed: the file's size limit counts bytes on disk,
    and a 1 MB .docx can unpack to 1 GB, or hold 400,000 paragraphs (each a text to embed).

    The defaults leave room for a 1,000-page book (about 1.5 million characters, 20,000
    paragraphs); the largest article here is 0.3% of that.
    """

    max_unpacked_bytes: int = 100_000_000  # all parts of a .docx, as its zip index declares
    max_chars: int = 2_000_000
    max_paragraphs: int = 50_000
    max_seconds: float = 60.0  # parsing one file (not embedding it)


@dataclass(frozen=True)
class LoadedFile:
    """The text of one file and what is known about it."""

    path: Path
    text: str
    raw_hash: str
    metadata: dict[str, str] = field(default_factory=dict)


def load_file(path: Path, max_bytes: int, limits: ParseLimits | None = None) -> LoadedFile:
    """Load one file; raise LoadError with a one-line reason when it cannot be used."""
    budget = _Budget(limits or ParseLimits())
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
    if suffix == ".pdf":  # PDF and Word text is counted as it is extracted
        text, metadata = _pdf_text(path, budget)
    elif suffix == ".docx":
        text, metadata = _docx_text(path, budget)
    else:
        plain = decode_text(data)
        html = suffix in (".html", ".htm")
        text, metadata = _html_text(plain) if html else split_front_matter(plain)
        budget.take(text)
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


class _Budget:
    """What a file's text may still take (characters, paragraphs, seconds); take() raises the
    LoadError that says which limit the file passed."""

    def __init__(self, limits: ParseLimits) -> None:
        self.limits = limits
        self.chars = self.paragraphs = 0
        self.deadline = time.monotonic() + limits.max_seconds

    def take(self, text: str) -> None:
        self.chars += len(text)
        self.paragraphs += sum(1 for line in text.splitlines() if line.strip())
        if self.chars > self.limits.max_chars:
            raise LoadError(f"over {self.limits.max_chars:,} characters of text; split the file")
        if self.paragraphs > self.limits.max_paragraphs:
            raise LoadError(f"over {self.limits.max_paragraphs:,} paragraphs; split the file")
        if time.monotonic() > self.deadline:
            raise LoadError(f"reading it took over {self.limits.max_seconds:g} s; split the file")


class _PlainLoader(yaml.SafeLoader):
    """YAML without aliases: front matter is 'key: value' lines, and aliases are how a 500-byte
    header expands to a billion items (safe_load expands them)."""

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            raise LoadError("invalid front matter: YAML aliases (*name) are not supported")
        return super().compose_node(parent, index)  # type: ignore[arg-type]


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
                meta = yaml.load("".join(lines[1:i]), Loader=_PlainLoader) or {}
            except yaml.YAMLError as exc:
                raise LoadError(f"invalid front matter: {str(exc).splitlines()[0]}") from None
            if not isinstance(meta, dict):
                raise LoadError("invalid front matter: expected 'key: value' lines")
            return "".join(lines[i + 1 :]), {str(k): str(v) for k, v in meta.items()}
    return text, {}


_HTML_DATE_META = ("article:published_time", "pubdate", "publishdate", "date", "dc.date")


def _html_text(html: str) -> tuple[str, dict[str, str]]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    meta: dict[str, str] = {}
    if soup.title and soup.title.string:
        meta["title"] = soup.title.string.strip()
        soup.title.decompose()
    # A page's publication date, as news sites state it (Open Graph, or a <time> element).
    for tag in soup.find_all("meta"):
        name = str(tag.get("property") or tag.get("name") or "").lower()
        if name in _HTML_DATE_META and tag.get("content") and "published" not in meta:
            meta["published"] = str(tag["content"]).strip()
    stamp = soup.find("time", attrs={"datetime": True})
    if stamp is not None and "published" not in meta:
        meta["published"] = str(stamp["datetime"]).strip()
    blocks = [
        el.get_text(" ", strip=True)
        for el in soup.find_all(["h1", "h2", "h3", "h4", "p", "li", "blockquote", "figcaption"])
    ]
    text = "\n".join("　　" + b for b in blocks if b)
    if not text.strip():
        text = soup.get_text("\n", strip=True)
    return text, meta


def _pdf_text(path: Path, budget: _Budget) -> tuple[str, dict[str, str]]:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(str(path))
        # Many PDFs are encrypted with an empty user password (only editing is restricted):
        # those are read; one that needs a password to open is reported as such.
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError("encrypted PDF that needs a password; save a copy without one")
        pages = []
        for page in reader.pages:  # pypdf bounds what each stream inflates to (75 MB)
            pages.append(page.extract_text() or "")
            budget.take(pages[-1] + "\n")  # as joined below
        info = reader.metadata
    except (FileNotDecryptedError, DependencyError):
        reason = "encrypted PDF that cannot be decrypted; save a copy without a password"
        raise LoadError(reason) from None
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise LoadError(f"not a readable PDF: {_first_line(exc)}") from None
    meta = {"title": str(info.title)} if info is not None and info.title else {}
    return "\n".join(pages), meta


def _docx_text(path: Path, budget: _Budget) -> tuple[str, dict[str, str]]:
    import zipfile

    from docx import Document
    from docx.opc.exceptions import PackageNotFoundError
    from lxml.etree import XMLSyntaxError

    limit = budget.limits.max_unpacked_bytes
    try:
        # python-docx reads every part into memory; the zip index declares their sizes, and
        # zipfile never inflates a member past its declared size (it fails the CRC instead).
        with zipfile.ZipFile(path) as package:
            unpacked = sum(info.file_size for info in package.infolist())
        if unpacked > limit:
            over = f"unpacks to {unpacked / 1e6:,.0f} MB, over the {limit / 1e6:,.0f} MB limit"
            raise LoadError(over)
        doc = Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError):
        raise LoadError("not a readable DOCX (not a Word document package)") from None
    except XMLSyntaxError as exc:
        raise LoadError(f"not a readable DOCX (damaged XML: {_first_line(exc)})") from None
    meta = {"title": doc.core_properties.title} if doc.core_properties.title else {}
    paragraphs = []
    for paragraph in doc.paragraphs:
        if text := paragraph.text.strip():
            paragraphs.append(text)
            budget.take(f"　　{text}\n")  # as joined below
    return "\n".join("　　" + p for p in paragraphs), meta


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:120] if text else type(exc).__name__
