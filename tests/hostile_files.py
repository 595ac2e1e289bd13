"""Small broken or locked files for the ingest tests, made on the fly (no binary fixtures)."""

from __future__ import annotations

from pathlib import Path


def broken_docx(path: Path) -> None:
    """A Word package whose document.xml is cut off."""
    import zipfile

    from docx import Document

    Document().save(str(path))
    with zipfile.ZipFile(path) as zin:
        parts = {name: zin.read(name) for name in zin.namelist()}
    parts["word/document.xml"] = b'<?xml version="1.0"?><w:document xmlns:w="x">'
    with zipfile.ZipFile(path, "w") as zout:
        for name, data in parts.items():
            zout.writestr(name, data)


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF showing `text` in Helvetica, with a correct xref table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


def encrypted_pdf(password: str) -> bytes:
    """A one-page PDF saying one English sentence, AES-256 encrypted with this user password."""
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(
        clone_from=PdfReader(io.BytesIO(minimal_pdf("The lake district opened three schools.")))
    )
    writer.encrypt(password, "owner", algorithm="AES-256")
    encrypted = io.BytesIO()
    writer.write(encrypted)
    return encrypted.getvalue()


def docx_with_body(path: Path, body: bytes) -> None:
    """A Word package whose document.xml is `body` (written with the best compression)."""
    import zipfile

    from docx import Document

    Document().save(str(path))
    with zipfile.ZipFile(path) as zin:
        parts = {name: zin.read(name) for name in zin.namelist()}
    parts["word/document.xml"] = body
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zout:
        for name, data in parts.items():
            zout.writestr(name, data)


_W = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def docx_paragraphs(path: Path, paragraphs: int, text: str = "") -> None:
    """A .docx of `paragraphs` paragraphs, each holding `text` (a few KB zipped)."""
    run = f"<w:r><w:t>{text}</w:t></w:r>".encode() if text else b""
    body = b"<w:p>" + run + b"</w:p>"
    docx_with_body(
        path, b"<w:document %s><w:body>%s</w:body></w:document>" % (_W, body * paragraphs)
    )


def docx_bomb(path: Path, expanded_mb: int) -> None:
    """A .docx whose document.xml unpacks to `expanded_mb` MB of one paragraph's text (about a
    thousandth of that zipped)."""
    import zipfile

    from docx import Document

    Document().save(str(path))
    with zipfile.ZipFile(path) as zin:
        parts = {name: zin.read(name) for name in zin.namelist() if name != "word/document.xml"}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zout:
        for name, data in parts.items():
            zout.writestr(name, data)
        with zout.open("word/document.xml", "w") as out:
            out.write(b"<w:document %s><w:body><w:p><w:r><w:t>" % _W)
            block = "湖".encode() * 1_000_000  # 3 MB
            for _ in range(expanded_mb // 3):
                out.write(block)
            out.write(b"</w:t></w:r></w:p></w:body></w:document>")


# A 500-byte front matter that YAML expands to 10^9 list items ("billion laughs").
YAML_BOMB = (
    "---\n"
    + 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{c}: &{c} [{','.join(['*' + p] * 10)}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "---\n　　正文。\n"
)
