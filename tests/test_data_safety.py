"""Nothing indexed is lost by a read failure or a slip: unreadable, empty or missing knowledge
folders and files are reported and remove nothing; only files known to be gone are removed.

Permissions are real: root reads every file whatever its mode, so a test run as root starts the
CLI without the two capabilities that allow that (setpriv, util-linux), as a normal user is.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT
from tests.hostile_files import broken_docx, encrypted_pdf

EXE = Path(sys.executable).with_name("zone-assistant")
AS_USER = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.getuid() == 0 else []


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mini corpus ingested once by the CLI (each test works on a copy)."""
    base = tmp_path_factory.mktemp("safety")
    shutil.copytree(FIXTURES / "mini", base / "knowledge")
    code, _, err = cli(base, "ingest")
    assert code == 0, err
    return base


@pytest.fixture()
def kb(ingested: Path, tmp_path: Path) -> Iterator[Path]:
    """A copy of the ingested knowledge and data folders this test may break."""
    for name in ("knowledge", "data"):
        shutil.copytree(ingested / name, tmp_path / name)
    yield tmp_path
    for path in tmp_path.rglob("*"):  # let pytest clean up
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)


def cli(base: Path, *args: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "ASSISTANT_DATA_DIR": str(base / "data"),
        "ASSISTANT_KNOWLEDGE_DIR": str(base / "knowledge"),
    }
    proc = subprocess.run(
        [*AS_USER, str(EXE), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    return proc.returncode, proc.stdout, proc.stderr


def indexed(base: Path) -> list[str]:
    """The sources of the committed documents (read in this process, after the CLI is done)."""
    from tests.conftest import make_app

    return sorted(make_app(base / "data", base / "knowledge").index.store.documents())


@pytest.mark.integration
def test_an_unreadable_knowledge_folder_removes_nothing(kb: Path):
    (kb / "knowledge").chmod(0)
    code, out, err = cli(kb, "ingest")
    assert code == 2
    assert f"failed: {kb / 'knowledge'}: cannot read {kb / 'knowledge'} (Permission denied); " \
           "nothing under it was removed from the index" in err  # fmt: skip
    assert "0 removed" in out
    assert indexed(kb) == ["forest.md", "harbor.txt"]


@pytest.mark.integration
def test_an_unreadable_file_is_reported_and_kept(kb: Path):
    (kb / "knowledge" / "harbor.txt").chmod(0)
    code, out, err = cli(kb, "ingest")
    assert code == 1
    assert err.strip() == "failed: harbor.txt: cannot read file (Permission denied)"
    assert "1 unchanged, 0 removed, 1 failed" in out
    assert indexed(kb) == ["forest.md", "harbor.txt"]


@pytest.mark.integration
def test_an_empty_folder_removes_nothing_and_a_deleted_file_is_removed(kb: Path):
    stash = kb / "stash"
    stash.mkdir()
    for name in ("harbor.txt", "forest.md"):
        (kb / "knowledge" / name).rename(stash / name)
    code, out, err = cli(kb, "ingest")
    assert code == 2
    assert err.strip() == (
        f"failed: {kb / 'knowledge'}: folder holds no articles; nothing was removed from the index"
    )
    assert indexed(kb) == ["forest.md", "harbor.txt"]
    (stash / "forest.md").rename(kb / "knowledge" / "forest.md")  # harbor.txt stays deleted
    code, out, _ = cli(kb, "ingest")
    assert code == 0 and "1 unchanged, 1 removed, 0 failed" in out
    assert indexed(kb) == ["forest.md"]


def damage(path: Path) -> None:
    with path.open("r+b") as db:
        db.seek(100)
        db.write(bytes(range(256)) * 16)


@pytest.mark.integration
def test_a_damaged_store_is_one_line_and_rebuild_replaces_it(kb: Path):
    data = kb / "data"
    published = data / "published" / "gens" / (data / "published" / "CURRENT").read_text().strip()
    damage(published / "chroma.sqlite3")
    damage(data / "chroma" / "chroma.sqlite3")
    code, out, err = cli(kb, "ask", "海港新区新引进重点项目多少个？")
    assert (code, out) == (2, "")
    assert err == (
        f"Error: the published index {published} cannot be opened (InternalError); "
        "rebuild it with: zone-assistant ingest --rebuild\n"
    )
    code, _, err = cli(kb, "ingest")
    assert (code, err) == (
        2,
        f"Error: the index in {data / 'chroma'} cannot be opened (InternalError); "
        "rebuild it with: zone-assistant ingest --rebuild\n",
    )
    code, out, _ = cli(kb, "ingest", "--rebuild")
    assert code == 0 and "2 added" in out
    code, out, _ = cli(kb, "ask", "海港新区新引进重点项目多少个？")
    assert code == 0 and "42个" in out


KEPT = "Error: nothing was rebuilt: no file could be indexed; the old index is kept as it was"


@pytest.mark.integration
@pytest.mark.parametrize("target", ["knowledge/nope.txt", "empty", "bad"])
def test_a_rebuild_that_finds_nothing_to_index_keeps_the_old_index(kb: Path, target: str):
    """A mistyped path, an empty folder, a folder where every file fails: exit 2, the old index
    answers as before."""
    (kb / "empty").mkdir()
    (kb / "bad").mkdir()
    (kb / "bad" / "empty.txt").write_text("", encoding="utf-8")
    code, out, err = cli(kb, "ingest", "--rebuild", str(kb / target))
    assert code == 2
    assert err.splitlines()[-1] == KEPT and "failed: " in err.splitlines()[0]
    assert "0 added" in out
    assert indexed(kb) == ["forest.md", "harbor.txt"]
    code, out, _ = cli(kb, "ask", "海港新区新引进重点项目多少个？")
    assert code == 0 and "42个" in out


@pytest.mark.integration
def test_a_rebuild_that_fails_midway_keeps_the_old_index(kb: Path, monkeypatch):
    """The new index is written beside the old one: an embedding that fails after the first
    document leaves the old master and the published state as they were."""
    from ingest.pipeline import ingest_paths
    from tests.conftest import make_app

    app = make_app(kb / "data", kb / "knowledge")
    real = app.embeddings("ingest")

    class Failing:
        def __init__(self) -> None:
            self.calls = 0

        def embed_documents(self, texts):
            self.calls += 1
            if self.calls > 1:
                raise RuntimeError("the embedding server went away")
            return real.embed_documents(texts)

    from dataclasses import replace

    options = replace(_options(app), window=4)
    with pytest.raises(RuntimeError):
        ingest_paths(app.index, Failing(), [kb / "knowledge"], options, rebuild=True)
    assert not (kb / "data" / "chroma.rebuild").exists()
    app.close()
    assert indexed(kb) == ["forest.md", "harbor.txt"]
    code, out, _ = cli(kb, "ingest")
    assert code == 0 and "2 unchanged" in out  # the master was untouched too


def _options(app):
    from ingest.pipeline import IngestOptions

    s = app.settings
    return IngestOptions(
        knowledge_dir=s.knowledge_dir, chunk_size=s.chunk_size, chunk_overlap=s.chunk_overlap,
        max_bytes=s.max_file_bytes, exclude=(s.profile_path,),
    )  # fmt: skip


@pytest.mark.integration
def test_a_rebuild_killed_between_its_renames_puts_the_old_master_back(kb: Path):
    data = kb / "data"
    (data / "chroma").rename(data / "chroma.old")  # what a kill between the two renames leaves
    code, out, _ = cli(kb, "ingest")
    assert code == 0 and "2 unchanged" in out
    assert not (data / "chroma.old").exists()


@pytest.mark.integration
def test_one_bad_file_never_blocks_the_rest(kb: Path):
    """Malformed XML in a .docx, a symlink loop, a password-protected PDF: each that file's
    failure, listed with one line; a good new file beside them is ingested; exit 1."""
    folder = kb / "knowledge"
    broken_docx(folder / "broken.docx")
    (folder / "loop.txt").symlink_to("loop.txt")
    (folder / "locked.pdf").write_bytes(encrypted_pdf("secret"))
    (folder / "open.pdf").write_bytes(encrypted_pdf(""))
    (folder / "new.txt").write_text("　　湖滨新区今年新建学校三所。\n", encoding="utf-8")
    code, out, err = cli(kb, "ingest")
    assert code == 1 and "Traceback" not in err
    docx, pdf, loop = sorted(err.splitlines())
    assert docx.startswith("failed: broken.docx: not a readable DOCX (damaged XML: Premature end")
    assert pdf == "failed: locked.pdf: encrypted PDF that needs a password; save a copy without one"
    assert loop == "failed: loop.txt: a link that leads nowhere (its target is missing, or a loop)"
    assert "2 added" in out
    assert indexed(kb) == ["forest.md", "harbor.txt", "new.txt", "open.pdf"]


@pytest.mark.integration
def test_only_files_inside_the_knowledge_folder_are_indexed(kb: Path):
    """A link out of the folder, or a path argument outside it, is reported and not indexed; a
    document whose file became such a link leaves the index; a link inside keeps its own name."""
    secret = kb / "secret.txt"  # beside the knowledge folder, not in it
    secret.write_text("　　机密文件写明口令是七七四九。\n", encoding="utf-8")
    folder = kb / "knowledge"
    (folder / "leak.txt").symlink_to(secret)
    (folder / "sub").mkdir()
    (folder / "sub" / "lake.txt").write_text("　　湖滨新区今年新建学校三所。\n", encoding="utf-8")
    (folder / "lake-link.txt").symlink_to(folder / "sub" / "lake.txt")
    code, out, err = cli(kb, "ingest")
    assert code == 1 and "Traceback" not in err
    assert err.splitlines() == [
        "failed: leak.txt: a link that leads outside the knowledge folder; not indexed",
        "failed: sub/lake.txt: same content as lake-link.txt",
    ]
    assert indexed(kb) == ["forest.md", "harbor.txt", "lake-link.txt"]

    code, out, err = cli(kb, "ingest", str(secret))
    assert code == 2
    assert err.splitlines() == [
        f"failed: {secret}: outside the knowledge folder {folder}; copy the file there to index it"
    ]

    (folder / "harbor.txt").unlink()  # an indexed article replaced by a link out of the folder
    (folder / "harbor.txt").symlink_to(secret)
    (folder / "lake-link.txt").unlink()
    code, out, err = cli(kb, "ingest")
    assert "failed: harbor.txt: a link that leads outside" in err
    assert "2 added" not in out and "2 removed" in out  # harbor.txt and the deleted link's document
    assert indexed(kb) == ["forest.md", "sub/lake.txt"]


@pytest.mark.integration
def test_bombs_are_skipped_with_bounded_memory(kb: Path):
    """A .docx unpacking to 300 MB, one of 400,000 paragraphs, YAML 'billion laughs' front
    matter: each reported and skipped, quickly, and the ingest's peak memory stays that of a
    plain run (before: 2.1 GB, past 240 s, and 3.4 GB for 169 s)."""
    from tests.hostile_files import YAML_BOMB, docx_bomb, docx_paragraphs

    folder = kb / "knowledge"
    docx_bomb(folder / "bomb.docx", 300)
    docx_paragraphs(folder / "many.docx", 400_000, "湖")
    (folder / "laughs.md").write_text(YAML_BOMB, encoding="utf-8")
    peak = (
        "import resource, subprocess, sys; p = subprocess.run(sys.argv[1:]); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024); "
        "sys.exit(p.returncode)"
    )
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(kb / "data"),
           "ASSISTANT_KNOWLEDGE_DIR": str(folder)}  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-c", peak, str(EXE), "ingest"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert sorted(line.split(":")[1].strip() for line in proc.stderr.splitlines()) == [
        "bomb.docx", "laughs.md", "many.docx",
    ]  # fmt: skip
    peak_mb = int(proc.stdout.splitlines()[-1])
    print(f"peak RSS of the ingest with the bombs: {peak_mb} MB")
    assert peak_mb < 800
    assert indexed(kb) == ["forest.md", "harbor.txt"]


def test_os_problems_name_the_path_and_a_full_disk():
    import errno as errnos

    from assistant.cli import os_problem

    copy = shutil.Error([("/d/chroma/x", "/d/published/x", "[Errno 28] No space left on device")])
    assert os_problem(copy).startswith("no space left on the disk (/d/published/x); free some")
    full = OSError(errnos.ENOSPC, "No space left on device", "/d/chroma/y")
    assert os_problem(full).startswith("no space left on the disk (/d/chroma/y)")
    denied = OSError(errnos.EACCES, "Permission denied", "/d/z")
    assert os_problem(denied).startswith("/d/z: Permission denied; check that ASSISTANT_DATA_DIR")


@pytest.fixture()
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A data folder on a 1 MB tmpfs (skipped where this process may not mount one)."""
    data = tmp_path / "data"
    data.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(data)],
                             capture_output=True)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root and CAP_SYS_ADMIN)")
    try:
        yield tmp_path
    finally:
        subprocess.run(["umount", "-l", str(data)], check=False)


@pytest.mark.integration
def test_a_full_disk_is_said_as_such(full_disk: Path):
    """Before: "Error: Error; check that ASSISTANT_DATA_DIR…" from both commands."""
    shutil.copytree(ROOT / "knowledge", full_disk / "knowledge")
    code, _, err = cli(full_disk, "ingest")
    assert code == 2 and "Traceback" not in err
    assert err.startswith("Error: no space left on the disk (")
    assert err.strip().endswith("free some space where ASSISTANT_DATA_DIR is and run it again")
    code, _, err = cli(full_disk, "ask", "中电光谷招商落户了多少家市场主体？")
    assert code == 2 and err.startswith("Error: no space left on the disk")


@pytest.mark.integration
def test_a_first_ingest_killed_midway_keeps_the_documents_it_committed(tmp_path: Path):
    """The master commits whole documents as it goes (every KnowledgeIndex.checkpoint_s; 0
    here): the re-run embeds only what was not done."""
    from dataclasses import replace

    from ingest.pipeline import ingest_paths
    from tests.conftest import make_app

    shutil.copytree(FIXTURES / "mini", tmp_path / "knowledge")
    app = make_app(tmp_path / "data", tmp_path / "knowledge")
    app.index.checkpoint_s = 0.0
    real = app.embeddings("ingest")

    class DiesAtTheHarbour:
        def embed_documents(self, texts):
            if any("海港" in t for t in texts):
                raise RuntimeError("killed")
            return real.embed_documents(texts)

    with pytest.raises(RuntimeError):
        ingest_paths(app.index, DiesAtTheHarbour(), [tmp_path / "knowledge"],
                     replace(_options(app), window=1))  # fmt: skip
    app.close()
    code, out, _ = cli(tmp_path, "ingest")
    assert code == 0 and "1 added, 0 updated, 1 unchanged" in out  # forest.md was kept
    assert indexed(tmp_path) == ["forest.md", "harbor.txt"]
