from pathlib import Path

import pytest

from ingest.load import LoadError, ParseLimits, decode_text, load_file
from tests.hostile_files import YAML_BOMB, docx_bomb, docx_paragraphs, minimal_pdf

TEXT = "　　青岛开发区新引进项目49个，储备重点在谈项目28个。\n"
MB = 1_000_000


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk", "big5"])
def test_text_encodings_are_detected(tmp_path: Path, encoding: str):
    text = (
        TEXT * 5
        if encoding != "big5"
        else "　　臺灣開發區新引進項目四十九個，儲備重點在談項目。\n" * 5
    )
    path = tmp_path / "a.txt"
    path.write_bytes(text.encode(encoding))
    assert load_file(path, MB).text == text


def test_front_matter_becomes_metadata(tmp_path: Path):
    path = tmp_path / "a.md"
    path.write_text("---\ntitle: 标题\nkind: news\n---\n" + TEXT, encoding="utf-8")
    loaded = load_file(path, MB)
    assert loaded.metadata == {"title": "标题", "kind": "news"}
    assert loaded.text == TEXT


def test_html_loader_keeps_paragraphs_and_drops_scripts(tmp_path: Path):
    path = tmp_path / "a.html"
    path.write_text(
        "<html><head><title>新闻</title><script>alert(1)</script></head>"
        "<body><p>第一段。</p><p>第二段。</p></body></html>",
        encoding="utf-8",
    )
    loaded = load_file(path, MB)
    assert loaded.metadata == {"title": "新闻"}
    assert loaded.text == "　　第一段。\n　　第二段。"


def test_docx_loader(tmp_path: Path):
    from docx import Document

    doc = Document()
    doc.core_properties.title = "文档标题"
    doc.add_paragraph("第一段内容。")
    doc.add_paragraph("第二段内容。")
    path = tmp_path / "a.docx"
    doc.save(str(path))
    loaded = load_file(path, MB)
    assert loaded.text == "　　第一段内容。\n　　第二段内容。"
    assert loaded.metadata == {"title": "文档标题"}


def test_pdf_loader(tmp_path: Path):
    path = tmp_path / "a.pdf"
    path.write_bytes(minimal_pdf("Zone report 2021"))
    assert load_file(path, MB).text.strip() == "Zone report 2021"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "file is empty"),
        ("blank.txt", b"  \n\n ", "file is empty"),
        ("garbage.txt", bytes(range(256)) * 20, "binary content, not text"),
        (
            "garbage.pdf",
            b"\x00\x01garbage" * 100,
            "not a readable PDF: Stream has ended unexpectedly",
        ),
        ("garbage.docx", b"PK\x03\x04garbage", "not a readable DOCX (not a Word document package)"),
        (
            "image.png",
            b"\x89PNG",
            "unsupported file type .png; supported: .txt, .md, .html, .htm, .pdf, .docx",
        ),
    ],
)
def test_bad_files_give_one_line_reasons(tmp_path: Path, name: str, content: bytes, reason: str):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LoadError) as err:
        load_file(path, MB)
    assert str(err.value) == reason


def test_size_limit_and_missing_path(tmp_path: Path):
    path = tmp_path / "big.txt"
    path.write_text(TEXT * 1000, encoding="utf-8")
    with pytest.raises(LoadError, match=r"^file is 0\.\d MB, over the 0\.0 MB limit$"):
        load_file(path, 1000)
    with pytest.raises(LoadError, match="^no such file$"):
        load_file(tmp_path / "missing.txt", MB)


def test_undecodable_bytes_are_rejected():
    with pytest.raises(LoadError, match="^undecodable bytes"):
        decode_text(bytes([0x81, 0xFF, 0xFE, 0x80]) * 200 + b"\x1b\x1c" * 300)


def test_what_a_file_expands_to_is_bounded(tmp_path: Path):
    """The size on disk is not the cost: each limit stops its own kind of file, quickly."""
    import time

    limits = ParseLimits(max_unpacked_bytes=50 * MB, max_chars=10_000, max_paragraphs=100)
    docx_bomb(tmp_path / "bomb.docx", 60)
    docx_paragraphs(tmp_path / "many.docx", 101, "湖")
    docx_paragraphs(tmp_path / "long.docx", 2, "湖" * 6000)
    (tmp_path / "long.txt").write_text("湖" * 10_001, encoding="utf-8")
    (tmp_path / "laughs.md").write_text(YAML_BOMB, encoding="utf-8")
    expected = {
        "bomb.docx": "unpacks to 61 MB, over the 50 MB limit",  # 60 MB of text, and the rest
        "many.docx": "over 100 paragraphs; split the file",
        "long.docx": "over 10,000 characters of text; split the file",
        "long.txt": "over 10,000 characters of text; split the file",
        "laughs.md": "invalid front matter: YAML aliases (*name) are not supported",
    }
    started = time.monotonic()
    for name, reason in expected.items():
        with pytest.raises(LoadError) as err:
            load_file(tmp_path / name, MB, limits)
        assert str(err.value) == reason, name
    assert (tmp_path / "bomb.docx").stat().st_size < 200_000
    assert time.monotonic() - started < 30  # the bombs took minutes and gigabytes before
    docx_paragraphs(tmp_path / "fine.docx", 100, "湖")  # at the limits: read
    assert load_file(tmp_path / "fine.docx", MB, limits).text.count("湖") == 100


def test_plain_front_matter_still_reads():
    from ingest.load import split_front_matter

    body, meta = split_front_matter("---\ntitle: 年度报告\nsubtitle: 一\n---\n　　正文。\n")
    assert meta == {"title": "年度报告", "subtitle": "一"} and body == "　　正文。\n"
