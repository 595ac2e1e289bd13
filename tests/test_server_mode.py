"""Server mode end to end: a real Chroma server (`chroma run`), several app processes on it.

An article ingested through one process is answered by another; the BM25 index is written
once by the ingest and loaded by the other process; a stopped server is one line, and
questions are answered again once it is back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eval.chroma_server import ChromaServer
from eval.processes import free_port, stop, wait_until_up
from tests.conftest import FIXTURES, ROOT
from tests.test_concurrent_ingest import LIGHTHOUSE

EXE = Path(sys.executable).with_name("zone-assistant")


@pytest.fixture()
def chroma(tmp_path: Path) -> Iterator[ChromaServer]:
    server = ChromaServer(tmp_path / "chroma-server")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def env_for(base: Path, server: ChromaServer) -> dict[str, str]:
    return {
        **os.environ,
        **server.env,
        "ASSISTANT_DATA_DIR": str(base / "data"),
        "ASSISTANT_KNOWLEDGE_DIR": str(base / "knowledge"),
    }


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EXE), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )


@pytest.mark.server
@pytest.mark.integration
def test_two_app_processes_share_one_server(tmp_path: Path, chroma: ChromaServer) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    shutil.copytree(FIXTURES / "mini", tmp_path / "knowledge")
    env = env_for(tmp_path, chroma)
    assert cli(env, "ingest").returncode == 0
    assert not (tmp_path / "data" / "chroma").exists()  # the vectors live on the server
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    served = subprocess.Popen(
        [str(EXE), "serve", "--port", str(port)], env=env, cwd=ROOT, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_up(url, served)
        api = Client(url, verbose=False)

        def ask(question: str) -> dict[str, Any]:
            return dict(api.predict(question, api_name="/ask"))

        assert "42个" in ask("海港新区新引进重点项目多少个？")["answer"]
        assert ask("灯塔岛今年新建灯塔多少座？")["refused"] is True
        # Another process ingests a new article into the same server: the server answers.
        (tmp_path / "knowledge" / "lighthouse.txt").write_text(LIGHTHOUSE, encoding="utf-8")
        ingest = cli(env, "ingest")
        assert ingest.returncode == 0 and "1 added" in ingest.stdout
        lexical = list((tmp_path / "data" / "lexical").glob("*/*/meta.json"))
        assert len(lexical) == 1  # written once by the ingest, for the committed state
        answer = ask("灯塔岛今年新建灯塔多少座？")
        # (no short answer: "5座" beside "两座" is below the learned short-answer threshold)
        assert not answer["refused"] and "灯塔5座" in answer["answer"]
        assert answer["citations"][0]["source"] == "lighthouse.txt"
        # The server stops: one line; it comes back: answers again, without a restart.
        chroma.stop()
        with pytest.raises(AppError) as err:
            ask("海港新区新引进重点项目多少个？")
        assert str(err.value).startswith("cannot reach the Chroma server (ConnectError)")
        chroma.start()
        assert "42个" in ask("海港新区新引进重点项目多少个？")["answer"]
    finally:
        stop(served)


@pytest.mark.server
@pytest.mark.integration
def test_cli_against_a_stopped_server_is_one_line(tmp_path: Path, chroma: ChromaServer) -> None:
    shutil.copytree(FIXTURES / "mini", tmp_path / "knowledge")
    env = env_for(tmp_path, chroma)
    assert cli(env, "ingest").returncode == 0
    got = json.loads(cli(env, "ask", "--json", "森林公园新增步道多少公里？").stdout)
    assert got["short_answer"] == "12公里"
    chroma.stop()
    result = cli(env, "ask", "森林公园新增步道多少公里？")
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: cannot reach the Chroma server at 127.0.0.1:{chroma.port} (ValueError); "
        "start it with: chroma run --path ./data/chroma-server, or unset CHROMA_HOST\n"
    )


@pytest.mark.server
@pytest.mark.integration
def test_ingests_on_one_server_take_turns(tmp_path: Path, chroma: ChromaServer) -> None:
    """Two sessions on one server would pick the same next generation: a second ingest from
    this data folder waits for the first (held here) and then goes in whole."""
    import time

    from ingest.generations import writer_lock

    shutil.copytree(FIXTURES / "mini", tmp_path / "knowledge")
    env = env_for(tmp_path, chroma)
    with writer_lock(tmp_path / "data" / "lexical" / "server-writer.lock"):
        waiting = subprocess.Popen(
            [str(EXE), "ingest"], env=env, cwd=ROOT, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert waiting.stderr is not None
        line = ""
        deadline = time.monotonic() + 120
        while "waiting for it to finish" not in line and time.monotonic() < deadline:
            line = waiting.stderr.readline() or line
            assert waiting.poll() is None, "the ingest did not wait for the lock"
        assert "another ingest is writing the index" in line
    out, _ = waiting.communicate(timeout=300)
    assert waiting.returncode == 0 and "added" in out
    got = json.loads(cli(env, "ask", "--json", "森林公园新增步道多少公里？").stdout)
    assert got["short_answer"] == "12公里"


@pytest.mark.server
@pytest.mark.integration
def test_a_server_rebuild_is_written_beside_and_a_failed_one_changes_nothing(
    tmp_path: Path, chroma: ChromaServer
) -> None:
    """While a rebuild embeds, the live collections answer; one that fails midway leaves them
    as they were (before: deleted first, "no index yet" until it finished, or for good)."""
    from dataclasses import replace

    from ingest.pipeline import IngestOptions, ingest_paths
    from tests.conftest import make_app

    shutil.copytree(FIXTURES / "mini", tmp_path / "knowledge")
    server = {"chroma_host": "127.0.0.1", "chroma_port": chroma.port}
    app = make_app(tmp_path / "a", tmp_path / "knowledge", **server)
    assert app.ingest().exit_code == 0
    question = "森林公园新增步道多少公里？"
    real = app.embeddings("ingest")
    answers: list[str] = []

    class FailsAfterAsking:
        def embed_documents(self, texts):
            answers.append(app.assistant.ask(question).short_answer)  # mid-rebuild
            if len(answers) > 1:
                raise RuntimeError("the embedding server went away")
            return real.embed_documents(texts)

    s = app.settings
    options = IngestOptions(s.knowledge_dir, s.chunk_size, s.chunk_overlap, s.max_file_bytes,
                            exclude=(s.profile_path,), window=4)  # fmt: skip
    with pytest.raises(RuntimeError):
        ingest_paths(app.index, FailsAfterAsking(), [s.knowledge_dir], options, rebuild=True)
    assert answers == ["12公里", "12公里"]
    assert sorted(app.index.store.documents()) == ["forest.md", "harbor.txt"]
    assert app.assistant.ask(question).short_answer == "12公里"
    summary = ingest_paths(app.index, real, [s.knowledge_dir], replace(options), rebuild=True)
    assert summary.exit_code == 0 and summary.count("added") == 2
    assert app.assistant.ask(question).short_answer == "12公里"
    names = sorted(c.name for c in app.index.store.client.list_collections())
    assert not [n for n in names if "rebuild" in n], names


@pytest.mark.server
@pytest.mark.integration
def test_a_rebuild_by_another_process_does_not_break_a_running_app(
    tmp_path: Path, chroma: ChromaServer
) -> None:
    """`ingest --rebuild` deletes and recreates the server's collections: an app process that
    holds handles to the old ones answers from the new ones, without a restart."""
    from tests.conftest import make_app

    shutil.copytree(FIXTURES / "mini", tmp_path / "knowledge")
    server = {"chroma_host": "127.0.0.1", "chroma_port": chroma.port}
    serving = make_app(tmp_path / "a", tmp_path / "knowledge", **server)
    assert serving.ingest().exit_code == 0
    question = "森林公园新增步道多少公里？"
    assert serving.assistant.ask(question).short_answer == "12公里"
    rebuilt = cli(env_for(tmp_path, chroma), "ingest", "--rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    for _ in range(2):
        assert serving.assistant.ask(question).short_answer == "12公里"
