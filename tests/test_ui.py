"""The web chat's functions: rendering, streaming, feedback, export, admin, API (real assistant)."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from assistant.admin import UploadRejectedError, safe_filename
from assistant.schema import Answer, Citation, Context
from assistant.web.feedback import FeedbackStore
from assistant.web.render import (
    Turn,
    chat_messages,
    render_answer,
    stream_prefixes,
)
from tests.conftest import ASK_JSON_KEYS
from tests.ui_support import (
    MINI_QUESTIONS,
    XSS_ARTICLE,
    XSS_QUESTION,
    build_mini,
    running_app,
    variant,
)

PASSWORD = "correct horse battery staple"


def evil_answer() -> Answer:
    """A hand-made answer whose document text, title and quote carry markup."""
    text = "前文<script>alert(1)</script>项目42个。后文"
    quote = "<script>alert(1)</script>项目42个。"
    ctx = Context(
        "c1",
        "evil.md",
        text,
        0.9,
        title="<img src=x onerror=alert(2)>",
        char_start=10,
        char_end=10 + len(text),
        paragraph=2,
    )
    other = Context("c2", "other.md", "未被引用的段落。", 0.1)
    cite = Citation(
        1, "c1", "evil.md", quote, title=ctx.title, char_start=12, char_end=12 + len(quote)
    )
    return Answer("问<b>题</b>？", f"{quote}[1]另有[7]", False, [cite], [ctx, other])


# --- pure rendering --------------------------------------------------------------------------


def test_answer_html_escapes_document_text_and_links_cited_markers():
    html = render_answer(evil_answer(), "t1")
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert '<a class="cite" href="#src-t1-1">[1]</a>' in html
    assert "另有[7]" in html  # a number with no citation is not a link
    assert html.count('class="src-card"') == 1  # only the cited source, not every context
    assert 'id="src-t1-1"' in html
    assert "<mark>&lt;script&gt;alert(1)&lt;/script&gt;项目42个。</mark>后文" in html
    assert "evil.md · 第3段 (para 3) · 字符 chars 12–43" in html
    assert "\n" not in html  # one raw HTML block for the Markdown renderer


def test_refusal_has_its_own_style_and_no_cards():
    answer = Answer("火星？", "知识库中没有找到相关信息。", True, [], [])
    html = render_answer(answer, "t2")
    assert html.startswith('<div class="zone-answer refused"><div class="refusal-badge">')
    assert "src-card" not in html


def test_refusal_shows_the_closest_passages_folded_and_marked_not_an_answer():
    from assistant.web.render import CLOSEST_LABEL

    contexts = [
        Context(f"c{i}", "evil.md", f"<b>第{i}段</b>文字。", 0.5, title="标题", paragraph=i)
        for i in range(5)
    ]
    html = render_answer(Answer("火星？", "知识库中没有找到相关信息。", True, [], contexts), "t")
    assert CLOSEST_LABEL in html and "Closest passages (not an answer)" in CLOSEST_LABEL
    assert html.count('<details class="src-card closest">') == 3  # the three closest, folded
    assert "&lt;b&gt;第0段&lt;/b&gt;文字。" in html and "第2段&lt;" in html
    assert "第3段&lt;" not in html
    assert "evil.md · 第1段 (para 1)" in html
    assert "<mark>" not in html and 'class="cite"' not in html  # nothing claims to be a quote
    assert "\n" not in html


def test_chat_messages_escape_questions():
    turns = [Turn("<img src=x onerror=alert(1)>\n第二行", error="Error: 问题太长", turn_id="t")]
    assert chat_messages(turns) == [
        {
            "role": "user",
            "content": '<div class="zone-question">&lt;img src=x onerror=alert(1)&gt;<br>第二行</div>',
        },
        {
            "role": "assistant",
            "content": '<div class="zone-answer error"><div class="ans-text">Error: 问题太长</div></div>',
        },
    ]


def test_stream_prefixes_grow_clause_by_clause():
    text = "今年以来，新引进项目42个，总投资280余亿元。[1]集团资产150亿元。[2]"
    assert stream_prefixes(text) == [
        "今年以来，",
        "今年以来，新引进项目42个，",
        "今年以来，新引进项目42个，总投资280余亿元。[1]",
        text,
    ]
    assert stream_prefixes("") == [""]


def test_briefing_markdown_has_answer_and_references():
    turn = Turn("项目*多少*个？", answer=evil_answer(), turn_id="t")
    error = Turn("坏问题", error="the question is empty", turn_id="u")
    from assistant.briefing import render_markdown
    from assistant.web.render import turn_briefing

    md = render_markdown(
        turn_briefing(
            [turn, error],
            "answerer: extractive",
            datetime(2025, 1, 2, 3, 4, tzinfo=UTC),
            title="青岛开发区改革问答",
        )
    )
    assert "## 1. 问\\<b\\>题\\</b\\>？\n\n" in md  # markup in a turn stays text
    assert "\n\\<script\\>alert(1)\\</script\\>项目42个。[1]另有[7]\n\n" in md
    assert "## 2. 坏问题\n\n> Error: the question is empty\n\n" in md
    assert "1. **\\<img src=x onerror=alert(2)\\>** (evil.md, 第3段 (para 3)): " in md


# --- upload names and feedback store ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\evil.md", "evil.md"),
        (".hidden.md", "hidden.md"),
        ("a b?*.TXT", "a_b.txt"),
        ("青岛 开发区<报道>.docx", "青岛_开发区_报道.docx"),
        ("....pdf", "upload.pdf"),
    ],
)
def test_safe_filename(name: str, safe: str):
    assert safe_filename(name) == safe


@pytest.mark.parametrize("name", ["run.sh", "page.html.exe", "noext", ".env", "dir/"])
def test_safe_filename_rejects_other_types(name: str):
    with pytest.raises(UploadRejectedError, match="unsupported file type"):
        safe_filename(name)


def test_feedback_store_appends_json_lines_from_many_threads(tmp_path: Path):
    store = FeedbackStore.in_data_dir(tmp_path)
    answer = {
        "question": "问",
        "answer": "答[1]",
        "refused": False,
        "citations": [{"n": 1, "chunk_id": "c", "source": "s", "quote": "答"}],
    }
    threads = [
        threading.Thread(target=store.record, args=(answer, "up" if i % 2 else "down"))
        for i in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = (tmp_path / "feedback.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 20
    entries = [json.loads(line) for line in lines]
    assert sorted(e["rating"] for e in entries) == ["down"] * 10 + ["up"] * 10
    assert entries[0]["citations"] == answer["citations"]
    with pytest.raises(ValueError, match="rating must be one of"):
        store.record(answer, "meh")


# --- the chat with the real assistant --------------------------------------------------------


@pytest.fixture(scope="module")
def mini(tmp_path_factory: pytest.TempPathFactory):
    """Settings and the real assistant over tests/fixtures/mini (read-only for these tests)."""
    return build_mini(tmp_path_factory.mktemp("ui-mini"))


@pytest.fixture()
def chat(mini, tmp_path: Path):
    from assistant.web.chat import ChatController

    return ChatController(
        mini.assistant, FeedbackStore.in_data_dir(tmp_path), tmp_path / "exports", 0
    )


def final(updates):
    updates = list(updates)
    return updates, updates[-1]


@pytest.mark.integration
def test_respond_streams_then_shows_cited_card(chat):
    updates, (box, messages, turns) = final(chat.respond("海港新区新引进重点项目多少个？", []))
    partials = [u[1][-1]["content"] for u in updates[:-1]]
    assert len(partials) >= 3
    assert all('class="zone-answer streaming"' in p for p in partials)
    assert "今年以来，" in partials[2] and "42" not in partials[1]
    assert box == "" and len(messages) == 2 and len(turns) == 1
    answer = turns[0].answer
    assert answer.answer == "今年以来，海港新区新引进重点项目42个，总投资280余亿元。[1]"
    html = messages[1]["content"]
    assert html.count('class="src-card"') == len(answer.citations) == 1
    assert len(answer.contexts) > 1  # retrieved but uncited sources are not shown
    assert "<mark>今年以来，海港新区新引进重点项目42个，总投资280余亿元。</mark>" in html
    assert "海港新区发布年度报告" in html and "harbor.txt · 第3段" in html


@pytest.mark.integration
def test_refusal_is_shown_as_refusal(chat):
    _, (_, messages, turns) = final(chat.respond("火星上有多少人？", []))
    assert turns[0].answer.refused
    assert 'class="zone-answer refused"' in messages[1]["content"]


@pytest.mark.integration
def test_followup_uses_previous_question(chat):
    _, (_, _, turns) = final(chat.respond("森林公园新增步道多少公里？", []))
    _, (_, messages, turns) = final(chat.respond("那种植树木呢？", turns))
    assert len(messages) == 4
    assert "森林公园" in turns[1].answer.standalone_question
    assert "8000余棵" in turns[1].answer.answer


@pytest.mark.integration
def test_question_markup_is_escaped(chat):
    question = (
        "<script>window.x=1</script><img src=x onerror=alert(1)>海港新区新引进重点项目多少个？"
    )
    _, (_, messages, _) = final(chat.respond(question, []))
    rendered = json.dumps(messages, ensure_ascii=False)
    assert "<script" not in rendered and "<img" not in rendered
    assert "&lt;script&gt;window.x=1&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in rendered


@pytest.mark.integration
def test_bad_question_is_an_error_message_not_a_crash(chat):
    _, (_, messages, turns) = final(chat.respond("x" * 5000, []))
    assert turns[0].answer is None and turns[0].error.startswith("Error: ")
    assert 'class="zone-answer error"' in messages[1]["content"]
    assert list(chat.respond("   ", [])) == [("", [], [])]


@pytest.mark.integration
def test_retry_and_clear(chat):
    _, (_, _, turns) = final(chat.respond("集团资产总额是多少？", []))
    _, (_, _, turns) = final(chat.respond("森林公园新增步道多少公里？", turns))
    _, (_, messages, retried) = final(chat.retry(turns, 0))  # retry the first question
    assert [t.question for t in retried] == ["集团资产总额是多少？"]
    assert retried[0].turn_id != turns[0].turn_id and len(messages) == 2
    _, (_, _, again) = final(chat.retry(turns))  # default: the last question
    assert [t.question for t in again] == ["集团资产总额是多少？", "森林公园新增步道多少公里？"]
    assert chat.clear() == ("", [], [])


@pytest.mark.integration
def test_feedback_is_stored_with_question_answer_and_citations(chat, tmp_path: Path):
    _, (_, _, turns) = final(chat.respond("集团资产总额是多少？", []))
    _, (_, _, turns) = final(chat.respond("火星上有多少人？", turns))
    turns = chat.rate(turns, 1, True)
    turns = chat.rate(turns, 3, "Dislike")
    assert chat.rate(turns, 3, None) is turns
    assert [t.rating for t in turns] == ["up", "down"]
    entries = FeedbackStore.in_data_dir(tmp_path).entries()
    assert [(e["rating"], e["question"], e["refused"]) for e in entries] == [
        ("up", "集团资产总额是多少？", False),
        ("down", "火星上有多少人？", True),
    ]
    assert entries[0]["answer"] == "集团资产总额从10亿元增长到150亿元。[1]"
    assert entries[0]["citations"][0]["quote"] == "集团资产总额从10亿元增长到150亿元。"
    assert entries[0]["citations"][0]["source"] == "harbor.txt"
    assert entries[0]["model"] == "answerer: extractive; embedding model: multilingual-e5-small"


@pytest.mark.integration
def test_export_conversation_and_last_answer(chat):
    from docx import Document

    from assistant.web.chat import Exports

    assert chat.export([], "s") == Exports()
    _, (_, _, turns) = final(chat.respond("集团资产总额是多少？", []))
    _, (_, _, turns) = final(chat.respond("森林公园新增步道多少公里？", turns))
    files = chat.export(turns, "../session-1")
    conversation, last = files.conversation, files.last
    assert conversation.parent == last.parent == files.word.parent == chat.export_dir / "session1"
    whole = conversation.read_text(encoding="utf-8")
    assert "## 1. 集团资产总额是多少？" in whole and "## 2. 森林公园新增步道多少公里？" in whole
    assert "\n## 参考资料 · References\n\n1. **海港新区发布年度报告** (harbor.txt, 第4段" in whole
    assert "“集团资产总额从10亿元增长到150亿元。”" in whole
    assert "\n2. **森林公园改造完成** (forest.md, 第" in whole
    one = last.read_text(encoding="utf-8")
    assert "## 2. 森林公园新增步道多少公里？" in one and "集团资产" not in one
    assert "\n## 参考资料 · References\n\n1. **森林公园改造完成** (forest.md, 第" in one
    word = Document(str(files.word))
    assert [p.text for p in word.paragraphs if p.style.name == "Heading 1"][:2] == [
        "1. 集团资产总额是多少？", "2. 森林公园新增步道多少公里？",
    ]  # fmt: skip


@pytest.mark.integration
def test_ask_json_is_the_cli_contract(chat, mini, monkeypatch):
    from click.testing import CliRunner

    from assistant.cli import main

    settings = mini.settings
    got = chat.ask_json("海港新区新引进重点项目多少个？")
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ASSISTANT_KNOWLEDGE_DIR", str(settings.knowledge_dir))
    result = CliRunner().invoke(main, ["ask", "--json", "海港新区新引进重点项目多少个？"])
    assert result.exit_code == 0, result.output
    expected = json.loads(result.output)
    assert list(got) == ASK_JSON_KEYS
    assert {k: v for k, v in got.items() if k != "latency_ms"} == {
        k: v for k, v in expected.items() if k != "latency_ms"
    }


# --- the app: which endpoints exist ----------------------------------------------------------


def dependency_names(demo) -> list[tuple[str | None, str]]:
    return [(fn.api_name, fn.api_visibility) for fn in demo.fns.values()]


@pytest.mark.integration
def test_without_password_there_is_no_admin_tab_and_only_ask_is_public(mini):
    from assistant.web.ui import create_app

    assert mini.settings.admin_password is None
    demo = create_app(mini).demo
    elem_ids = {getattr(b, "elem_id", None) for b in demo.blocks.values()}
    assert "admin-tab" not in elem_ids and "admin-password" not in elem_ids
    assert not any("admin" in (fn.concurrency_id or "") for fn in demo.fns.values())
    public = [name for name, visibility in dependency_names(demo) if visibility != "private"]
    assert public == ["ask"]  # chat events are private too: the UI calls them, clients cannot
    assert list(demo.get_api_info()["named_endpoints"]) == ["/ask"]


@pytest.mark.integration
def test_a_question_sent_while_the_last_one_ends_is_kept_not_dropped(mini):
    """Ask and Enter read the box when the previous answer's event has ended (Gradio's
    "always_last"); with its default ("once") a question sent in the moment between an answer
    showing and its event ending was dropped. Other answering events still run once."""
    from assistant.web.ui import create_app

    demo = create_app(mini).demo
    modes = {}
    for fn in demo.fns.values():
        for block_id, event in fn.targets:
            block = demo.blocks.get(block_id)
            modes[(getattr(block, "elem_id", None), event)] = fn.trigger_mode
    assert modes[("ask-button", "click")] == "always_last"
    assert modes[("question", "submit")] == "always_last"
    assert modes[("retry-button", "click")] == "once"


@pytest.mark.integration
def test_with_password_the_admin_events_are_private(mini):
    from assistant.web.ui import create_app

    demo = create_app(variant(mini, admin_password=SecretStr(PASSWORD))).demo
    elem_ids = {getattr(b, "elem_id", None) for b in demo.blocks.values()}
    assert {"admin-tab", "admin-password", "admin-table"} <= elem_ids
    admin_fns = [fn for fn in demo.fns.values() if fn.concurrency_id == "admin"]
    names = sorted(fn.fn.__name__ for fn in admin_fns)
    assert names == ["on_delete", "on_rebuild", "on_reindex", "on_upload"]
    assert all(fn.api_visibility == "private" for fn in demo.fns.values() if fn.api_name != "ask")
    assert list(demo.get_api_info()["named_endpoints"]) == ["/ask"]
    # The gatekeeper's roles, as declared with each event: the admin's actions need the login.
    web = create_app(variant(mini, admin_password=SecretStr(PASSWORD)))
    roles = {
        web.demo.fns[i].fn.__name__: r for i, r in web.gate.roles.items() if web.demo.fns[i].fn
    }
    assert {roles[n] for n in names} == {"admin"} and roles["ask"] == "ask"
    assert roles["respond"] == "chat" and set(web.gate.roles) == set(web.demo.fns)


@pytest.mark.integration
def test_read_closer_is_offered_only_where_a_reader_is_configured(mini):
    from assistant.web.ui import create_app

    def closer_button(app):
        demo = create_app(app).demo
        (button,) = [
            b for b in demo.blocks.values() if getattr(b, "elem_id", "") == "read-closer-button"
        ]
        return button.visible

    assert closer_button(mini) is False
    reader = variant(mini, llm_base_url="http://127.0.0.1:9/v1", llm_model="m", llm_role="read")
    assert closer_button(reader) is True
    assert reader.assistant.answerer.name == "extractive"  # answers stay extractive


# --- the admin tab's logic -------------------------------------------------------------------


@pytest.fixture()
def admin_setup(tmp_path: Path):
    """A fresh index this test may change, its admin and the tab's handlers."""
    from assistant.web.admin_tab import AdminHandlers

    app = build_mini(tmp_path, admin_password=PASSWORD)
    return app.settings, app.assistant, AdminHandlers(app.admin)


@pytest.mark.integration
def test_admin_handlers_require_the_login_on_every_call(admin_setup, tmp_path: Path):
    from assistant.web.admin_tab import AdminLockedError

    settings, _, handlers = admin_setup
    upload = tmp_path / "new.txt"
    upload.write_text("新的文章。", encoding="utf-8")
    for call in (
        lambda flag: handlers.listing(flag),
        lambda flag: handlers.upload(flag, [upload]),
        lambda flag: handlers.delete(flag, "harbor.txt"),
        lambda flag: handlers.reindex(flag),
        lambda flag: handlers.reindex(flag, rebuild=True),
    ):
        for flag in (False, None, "true", 1):
            with pytest.raises(AdminLockedError):
                call(flag)
    assert sorted(p.name for p in settings.knowledge_dir.iterdir()) == [
        "forest.md",
        "harbor.txt",
        "profile.toml",
    ]
    rows, sources = handlers.listing(True)
    assert sources == ["forest.md", "harbor.txt"]
    manifest = handlers.admin.index.store.documents()
    assert [r[:5] for r in rows] == [  # undated, no repost
        ["forest.md", "森林公园改造完成", "?", "", manifest["forest.md"].chunks],
        ["harbor.txt", "海港新区发布年度报告", "?", "", manifest["harbor.txt"].chunks],
    ]
    assert all(r[4] >= 1 for r in rows)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", rows[0][5])


@pytest.mark.integration
def test_upload_rejects_bad_files_and_the_assistant_sees_the_new_one(admin_setup, tmp_path: Path):
    from assistant.web.chat import ChatController

    settings, assistant, handlers = admin_setup
    uploads = tmp_path / "uploads"
    (uploads / "a").mkdir(parents=True)
    good = uploads / "a" / "..灯塔 简报.md"
    good.write_text(XSS_ARTICLE, encoding="utf-8")
    (uploads / "run.sh").write_text("echo hi", encoding="utf-8")
    (uploads / "empty.txt").write_text("   ", encoding="utf-8")
    (uploads / "big.txt").write_bytes("大".encode() * 400_000)  # 1.2 MB, limit is 1 MB
    (uploads / "copy.txt").write_bytes((settings.knowledge_dir / "harbor.txt").read_bytes())
    broken = uploads / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really")
    handlers.admin.settings = settings.model_copy(update={"max_file_mb": 1.0})
    calls: list[tuple[int, int, str]] = []
    files = [
        good,
        uploads / "run.sh",
        uploads / "empty.txt",
        uploads / "big.txt",
        uploads / "copy.txt",
        broken,
    ]
    log, rows, sources = handlers.upload(True, files, lambda *a: calls.append(a))
    lines = log.splitlines()
    assert (
        lines[0]
        == "未接受 · rejected: run.sh: unsupported file type .sh; allowed: .txt, .md, .html, .htm, .pdf, .docx"
    )
    assert lines[1] == "未接受 · rejected: empty.txt: file is empty"
    assert lines[2] == "未接受 · rejected: big.txt: file is 1.2 MB, over the 1 MB limit"
    assert (
        lines[3]
        == "未接受 · rejected: copy.txt: same content as harbor.txt, already in the knowledge base"
    )
    assert lines[4].startswith("未接受 · rejected: broken.pdf: ")
    assert re.fullmatch(r"已添加 · added: 灯塔_简报\.md \((\d+) chunks\)", lines[5])
    chunks = int(lines[5].split("(")[1].split()[0])
    # progress counts every text embedded: the chunks, then their sentences
    assert calls and calls[-1][0] == calls[-1][1] > chunks and calls[-1][2] == "embedding"
    assert sources == ["forest.md", "harbor.txt", "灯塔_简报.md"]
    assert sorted(p.name for p in settings.knowledge_dir.iterdir()) == [
        "forest.md",
        "harbor.txt",
        "profile.toml",
        "灯塔_简报.md",
    ]
    # The running assistant answers from the new article at once, escaped.
    chat = ChatController(assistant, FeedbackStore.in_data_dir(tmp_path), tmp_path / "x", 0)
    *_, (_, messages, turns) = chat.respond(XSS_QUESTION, [])
    assert turns[0].answer.citations[0].source == "灯塔_简报.md"
    assert "5座" in turns[0].answer.answer
    html = messages[1]["content"]
    assert "<script" not in html and "<img" not in html and "&lt;script&gt;" in html
    # Delete: gone from the index, the folder and the answers.
    log, _, sources = handlers.delete(True, "灯塔_简报.md")
    assert log == "已删除 · deleted: 灯塔_简报.md (file deleted)"
    assert sources == ["forest.md", "harbor.txt"]
    assert not (settings.knowledge_dir / "灯塔_简报.md").exists()
    assert assistant.ask(XSS_QUESTION).refused
    assert handlers.delete(True, "../harbor.txt")[0] == "未找到 · not found: ../harbor.txt"
    assert handlers.delete(True, None)[0] == "未找到 · not found: (nothing selected)"


@pytest.mark.integration
def test_reupload_replaces_and_failed_ingest_restores_the_previous_file(admin_setup, tmp_path):
    from ingest.pipeline import FileOutcome, IngestSummary

    settings, assistant, handlers = admin_setup
    harbor = settings.knowledge_dir / "harbor.txt"
    original = harbor.read_bytes()
    newer = tmp_path / "harbor.txt"
    newer.write_text("　　海港新区今年新引进重点项目50个。\n", encoding="utf-8")
    admin = handlers.admin

    def failing_ingest(paths, rebuild=False, progress=None):
        return IngestSummary([FileOutcome("harbor.txt", "failed", reason="disk full")])

    real_ingest, admin.ingest = admin.ingest, failing_ingest
    assert admin.upload([newer]) == ["rejected: harbor.txt: disk full"]
    assert harbor.read_bytes() == original
    admin.ingest = real_ingest
    assert admin.upload([newer]) == ["updated: harbor.txt (1 chunks)"]  # one sentence
    assert "50个" in assistant.ask("海港新区今年新引进重点项目多少个？").answer
    log, _, _ = handlers.reindex(True)
    assert log.startswith("文件 · files: 0 added, 0 updated, 2 unchanged, 0 removed, 0 failed;")
    calls: list[tuple[int, int, str]] = []
    log, _, sources = handlers.reindex(True, lambda *a: calls.append(a), rebuild=True)
    assert log.startswith("文件 · files: 2 added, 0 updated, 0 unchanged, 0 removed, 0 failed;")
    assert calls[-1][0] == calls[-1][1] > 0 and sources == ["forest.md", "harbor.txt"]
    assert "50个" in assistant.ask("海港新区今年新引进重点项目多少个？").answer


@pytest.mark.integration
def test_uploads_a_stop_interrupted_are_finished_at_the_next_start(admin_setup, tmp_path):
    """A server stopped after copying uploads into the folder and before ingesting them: the
    next start ingests them (and puts back what a failed one replaced), and says so."""
    from assistant.admin import KnowledgeAdmin
    from ingest.pipeline import FileOutcome

    settings, assistant, handlers = admin_setup
    admin = handlers.admin
    harbor = settings.knowledge_dir / "harbor.txt"
    original = harbor.read_bytes()
    (tmp_path / "lake.txt").write_text("　　湖滨新区今年新建学校三所。\n", encoding="utf-8")
    (tmp_path / "harbor.txt").write_text("　　海港新区今年新引进重点项目60个。\n", encoding="utf-8")

    def stopped(paths, rebuild=False, progress=None):
        raise KeyboardInterrupt  # the server process ends here

    real_ingest, admin.ingest = admin.ingest, stopped
    with pytest.raises(KeyboardInterrupt):
        admin.upload([tmp_path / "lake.txt", tmp_path / "harbor.txt"])
    admin.ingest = real_ingest
    assert (settings.knowledge_dir / "lake.txt").is_file()
    assert "lake.txt" not in admin.sources()

    def harbor_fails(paths, rebuild=False, progress=None):
        summary = real_ingest([p for p in paths if p.name != "harbor.txt"])
        summary.outcomes.append(FileOutcome("harbor.txt", "failed", reason="no sentences found"))
        return summary

    restarted = KnowledgeAdmin(settings, admin.index, harbor_fails)
    assert restarted.recover() == [
        "finished an upload interrupted by a stop: added: lake.txt (1 chunks)",
        "finished an upload interrupted by a stop: rejected: harbor.txt: no sentences found",
    ]
    assert harbor.read_bytes() == original  # the failed upload's previous version is back
    assert "lake.txt" in restarted.sources()
    assert restarted.recover() == []  # settled: nothing left to finish
    assert restarted.delete("lake.txt").startswith("deleted: lake.txt")


# --- the API through a real server -----------------------------------------------------------


@pytest.mark.server
@pytest.mark.integration
def test_api_ask_over_http_and_no_admin_endpoint(mini):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    with running_app(variant(mini, admin_password=SecretStr(PASSWORD))) as url:
        client = Client(url, verbose=False)
        question, number = MINI_QUESTIONS[0]
        got = client.predict(question, api_name="/ask")
        assert got["question"] == question and number in got["answer"]
        assert got["citations"][0]["source"] == "harbor.txt"
        assert sorted(got) == sorted(mini.assistant.ask(question).to_json())
        assert list(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == [
            "/ask"
        ]
        with pytest.raises(AppError, match="the question is empty"):
            client.predict("", api_name="/ask")


def test_admin_results_are_labelled_in_chinese_as_the_chat_is():
    from assistant.web.admin_tab import bilingual

    lines = [
        "rejected: run.sh: unsupported file type .sh",
        "finished an upload interrupted by a stop: added: lake.txt (1 chunks)",
        "files: 1 added, 0 updated, 0 unchanged, 0 removed, 0 failed; chunks written: 3; 0.1s",
        "something new",
    ]
    assert bilingual(lines).splitlines() == [
        "未接受 · rejected: run.sh: unsupported file type .sh",
        "已完成中断的上传 · finished an upload interrupted by a stop: added: lake.txt (1 chunks)",
        "文件 · files: 1 added, 0 updated, 0 unchanged, 0 removed, 0 failed; chunks written: 3; 0.1s",
        "something new",
    ]
