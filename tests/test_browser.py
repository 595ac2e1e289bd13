"""The web chat in a real headless browser: Debian's chromium driven by Playwright."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ui_support import (
    MINI_QUESTIONS,
    XSS_QUESTION,
    XSS_TITLE,
    build_mini,
    running_app,
    variant,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
PASSWORD = "browser-test-password"
TIMEOUT_MS = 30_000

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.integration]

if not CHROMIUM.exists():
    if os.environ.get("CI", "").lower() == "true":
        raise RuntimeError(f"{CHROMIUM} is missing in CI; install it with: make browser")
    pytest.skip(
        f"{CHROMIUM} is missing; install it with: make browser (apt-get install chromium)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two servers over one assistant: with an admin password, and without one."""
    root = tmp_path_factory.mktemp("browser")
    app = build_mini(root, xss_article=True, admin_password=PASSWORD)
    app = variant(app, rate_burst=1000)  # every test here asks from one address
    settings = app.settings
    with running_app(app, stream_delay=0.02) as admin_url:
        with running_app(variant(app, admin_password=None)) as public_url:
            yield {"admin": admin_url, "public": public_url, "settings": settings}


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Chromium with a fresh profile, closed at the end of the module."""
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1200, "height": 1000},
            accept_downloads=True,
        )
        try:
            yield context
        finally:
            context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    page.close()
    assert errors == []


def ask(page: Any, question: str) -> Any:
    """Type a question, send it, and wait for its finished answer; return that answer element."""
    done = page.locator("#chat .zone-answer:not(.streaming)")
    before = done.count()
    page.locator("#question textarea").fill(question)
    page.locator("#ask-button").click()
    page.wait_for_function(
        "n => document.querySelectorAll('#chat .zone-answer:not(.streaming)').length > n",
        arg=before,
    )
    return done.nth(before)


def test_question_gets_an_answer_with_a_citation_card(page: Any, served: dict, tmp_path: Path):
    page.goto(served["admin"])
    assert (
        page.locator(".zone-header h2").inner_text()
        == "海港新区简报问答 · Harbour district assistant"
    )
    about = page.locator(".zone-about .zone-model")
    assert not about.is_visible()  # folded at the foot of the page
    assert about.text_content() == "answerer: extractive; embedding model: multilingual-e5-small"
    answer = ask(page, "海港新区新引进重点项目多少个？")
    text = answer.locator(".ans-text").inner_text()
    assert text == "今年以来，海港新区新引进重点项目42个，总投资280余亿元。[1]"
    assert answer.locator(".short-answer").inner_text() == "42个"  # the asked fact, first
    cards = answer.locator(".src-card")
    assert cards.count() == 1
    card = cards.first
    assert card.locator(".src-title").inner_text() == "海港新区发布年度报告"
    assert (
        card.locator("mark").inner_text()
        == "今年以来，海港新区新引进重点项目42个，总投资280余亿元。"
    )
    assert card.locator(".src-pos").inner_text().startswith("harbor.txt · 第3段")
    link = answer.locator("a.cite").first
    link.click()
    card_id = card.get_attribute("id")
    assert page.url.endswith("#" + card_id)
    assert page.evaluate("() => document.querySelector(':target')?.id") == card_id
    page.screenshot(path=str(tmp_path / "answer.png"), full_page=True)
    # Chinese: a CJK font first, and long passages wrap inside the card on a phone-sized page.
    font = card.evaluate("e => getComputedStyle(e.querySelector('.src-text')).fontFamily")
    assert font.startswith('"Noto Sans CJK SC"')
    page.set_viewport_size({"width": 390, "height": 900})
    assert card.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
    page.set_viewport_size({"width": 1200, "height": 1000})
    # Thumbs up is stored with the question, answer and citations.
    page.locator("#chat button[aria-label='Like']").first.click()
    feedback = served["settings"].data_dir / "feedback.jsonl"
    for _ in range(100):
        if feedback.exists() and feedback.read_text(encoding="utf-8").strip():
            break
        page.wait_for_timeout(100)
    entry = json.loads(feedback.read_text(encoding="utf-8").splitlines()[0])
    assert (entry["rating"], entry["question"]) == ("up", "海港新区新引进重点项目多少个？")
    assert entry["citations"][0]["source"] == "harbor.txt"
    # A follow-up uses the conversation; the refusal has its own look.
    ask(page, "森林公园新增步道多少公里？")
    follow = ask(page, "那种植树木呢？")
    assert "8000余棵" in follow.locator(".ans-text").inner_text()
    refused = ask(page, "火星上有多少人？")
    assert refused.get_attribute("class") == "zone-answer refused"
    assert refused.locator(".src-card:not(.closest)").count() == 0
    # Its closest passages: folded, marked as not an answer, opened by a click.
    assert "not an answer" in refused.locator(".src-cards.closest .src-label").inner_text()
    closest = refused.locator("details.closest").first
    assert not closest.locator(".src-text").is_visible()
    closest.locator("summary").click()
    assert closest.locator(".src-text").is_visible()
    page.screenshot(path=str(tmp_path / "conversation.png"), full_page=True)
    assert (tmp_path / "answer.png").stat().st_size > 10_000
    # The conversation downloads as a Markdown briefing (the follow-up under its question)…
    with page.expect_download() as info:
        page.locator("#download-conversation").click()
    briefing = Path(info.value.path()).read_text(encoding="utf-8")
    assert briefing.startswith("# 海港新区简报问答 · 简报 Briefing")
    assert "## 1. 海港新区新引进重点项目多少个？" in briefing
    assert "### 2.1 追问 · Follow-up: 那种植树木呢？" in briefing
    assert "## 3. 火星上有多少人？" in briefing
    # …and as a Word document with the same headings.
    from docx import Document

    with page.expect_download() as info:
        page.locator("#download-word").click()
    assert info.value.suggested_filename == "zone-briefing.docx"
    word = Document(info.value.path())
    assert [p.text for p in word.paragraphs if p.style.name == "Heading 2"] == [
        "2.1 追问 · Follow-up: 那种植树木呢？"
    ]


def test_markup_in_questions_and_articles_never_runs(page: Any, served: dict):
    page.goto(served["admin"])
    injected = (
        "<img src=x onerror=window.__xss=1><script>window.__xss=5</script>集团资产总额是多少？"
    )
    ask(page, injected)
    question = page.locator("#chat .zone-question").last
    assert question.inner_text() == injected
    answer = ask(page, XSS_QUESTION)  # cites an article whose title and text carry markup
    assert answer.locator(".src-title").inner_text() == XSS_TITLE
    assert "<script>window.__xss=3</script>灯塔岛今年新建灯塔5座" in answer.inner_text()
    assert page.locator("#chat img, #chat script").count() == 0
    page.wait_for_timeout(500)
    assert page.evaluate("() => typeof window.__xss") == "undefined"
    # Retry (the icon on the last answer) asks the last question again, in place.
    old = answer.locator(".src-card").first.get_attribute("id")
    page.locator("#chat button[aria-label='Retry']").last.click()
    page.wait_for_function(
        """old => {
            const cards = [...document.querySelectorAll('#chat .src-card')];
            return cards.length && cards[cards.length - 1].id !== old
                && !document.querySelector('#chat .streaming');
        }""",
        arg=old,
    )
    assert page.locator("#chat .zone-question").count() == 2
    page.locator("#clear-button").click()
    page.wait_for_function("() => !document.querySelector('#chat .zone-answer')")


def test_admin_tab_is_absent_without_a_password(page: Any, served: dict):
    page.goto(served["public"])
    page.locator("#question textarea").wait_for()
    assert page.get_by_role("tab", name=re.compile("Knowledge base")).count() == 0
    assert page.locator("#admin-password").count() == 0
    assert page.get_by_role("tab", name=re.compile("Chat")).count() == 1


def test_admin_tab_refuses_a_wrong_password_then_uploads(page: Any, served: dict, tmp_path: Path):
    page.goto(served["admin"])
    page.get_by_role("tab", name=re.compile("Knowledge base")).click()
    status = page.locator("#admin-status textarea")
    page.locator("#admin-password input").fill("not the password")
    page.locator("#admin-login").click()
    page.wait_for_function(
        "() => document.querySelector('#admin-status textarea').value.includes('Wrong')"
    )
    assert status.input_value() == "密码错误 · Wrong password; wait 1 s"
    assert not page.locator("#admin-table").is_visible()
    page.locator("#admin-password input").fill(PASSWORD)
    page.locator("#admin-login").click()  # within the backoff: refused without a check
    page.wait_for_function(
        "() => document.querySelector('#admin-status textarea').value.includes('too many')"
    )
    assert not page.locator("#admin-table").is_visible()
    page.wait_for_timeout(1100)
    page.locator("#admin-password input").fill(PASSWORD)
    page.locator("#admin-login").click()
    page.wait_for_function(
        "() => document.querySelector('#admin-status textarea').value.includes('Unlocked')"
    )
    table = page.locator("#admin-table")
    table.wait_for(state="visible")
    page.wait_for_function(
        "() => document.querySelector('#admin-table').innerText.includes('xss.md')"
    )
    text = table.inner_text()
    assert "harbor.txt" in text and "海港新区发布年度报告" in text and XSS_TITLE in text
    page.wait_for_timeout(300)
    assert page.evaluate("() => typeof window.__xss") == "undefined"
    # Upload a new article; the chat answers from it right away.
    upload = tmp_path / "蓝湾 新区.txt"
    upload.write_text("　　蓝湾新区今年建成人才公寓1200套。\n", encoding="utf-8")
    page.locator("#admin-upload input[type=file]").set_input_files(str(upload))
    page.locator("#admin-upload-button").click()
    page.wait_for_function(
        "() => document.querySelector('#admin-log textarea').value.includes('蓝湾_新区.txt')"
    )
    assert (
        page.locator("#admin-log textarea")
        .input_value()
        .startswith("已添加 · added: 蓝湾_新区.txt (")
    )
    page.wait_for_function(
        "() => document.querySelector('#admin-table').innerText.includes('蓝湾_新区.txt')"
    )
    page.get_by_role("tab", name=re.compile("Chat")).click()
    answer = ask(page, "蓝湾新区今年建成人才公寓多少套？")
    assert answer.locator(".src-pos").first.inner_text().startswith("蓝湾_新区.txt")
    assert "1200套" in answer.locator(".ans-text").inner_text()
    # Deleting asks first; cancel keeps the article, confirm removes it.
    page.get_by_role("tab", name=re.compile("Knowledge base")).click()
    page.locator("#admin-choice input").click()
    page.get_by_role("option", name="蓝湾_新区.txt").click()
    page.locator("#admin-delete").click()
    page.locator("#admin-confirm").wait_for(state="visible")
    assert "蓝湾_新区.txt" in page.locator("#admin-confirm-text").inner_text()
    page.locator("#admin-cancel").click()
    page.locator("#admin-confirm").wait_for(state="hidden")
    assert "蓝湾_新区.txt" in page.locator("#admin-table").inner_text()
    page.locator("#admin-choice input").click()
    page.get_by_role("option", name="蓝湾_新区.txt").click()
    page.locator("#admin-delete").click()
    page.locator("#admin-confirm").click()
    page.wait_for_function(
        "() => document.querySelector('#admin-log textarea').value.startsWith('已删除 · deleted: 蓝湾_新区.txt')"
    )
    assert "蓝湾_新区.txt" not in page.locator("#admin-table").inner_text()
    # A full rebuild, with progress, leaves the other articles answerable.
    page.locator("#admin-rebuild").click()
    assert "replaces the index of 3 articles" in page.locator("#admin-rebuild-text").inner_text()
    page.locator("#admin-rebuild-confirm").click()
    page.wait_for_function(
        "() => document.querySelector('#admin-log textarea').value.startsWith('文件 · files: 3 added')"
    )


PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
# Where the newest question is: its top against the chat box's (or the window's on a phone).
_NEWEST = """() => {
  const rows = document.querySelectorAll('#chat .user-row');
  const box = document.querySelector('#chat .bubble-wrap');
  const b = box.getBoundingClientRect();
  return {row: rows[rows.length - 1].getBoundingClientRect().top, box: b.top, bottom: b.bottom,
          inner: getComputedStyle(box).overflowY, view: innerHeight};
}"""


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_each_example_question_answers_when_clicked(page: Any, served: dict, viewport: dict):
    """On a phone the examples sit right under the question box, above the other buttons."""
    page.set_viewport_size(viewport)
    page.goto(served["public"])
    examples = page.locator("#examples button")
    examples.first.wait_for()
    names = [examples.nth(i).inner_text() for i in range(examples.count())]
    assert names == [
        "海港新区新引进重点项目多少个？",
        "森林公园新增步道多少公里？",
        "How many key projects did the harbour district bring in?",
    ]
    top = page.locator("#examples").bounding_box()["y"]
    assert top < page.locator("#retry-button").bounding_box()["y"]
    assert top > page.locator("#question").bounding_box()["y"]
    expected = ["42个", "12公里", "42"]
    done = page.locator("#chat .zone-answer:not(.streaming)")
    for i, fact in enumerate(expected):
        examples.nth(i).click()
        page.wait_for_function(
            "n => document.querySelectorAll('#chat .zone-answer:not(.streaming)').length > n",
            arg=i,
        )
        assert fact in done.nth(i).inner_text()
        assert done.nth(i).locator(".src-card").count() >= 1
    assert page.locator("#chat .user-row").count() == 3


def test_the_newest_question_and_its_answer_stay_in_view(page: Any, served: dict):
    """Gradio's autoscroll left the end of the last source card in view; now the question and
    the start of its answer are, in the chat box on a desktop and in the page on a phone."""
    questions = [q for q, _ in MINI_QUESTIONS[:4]]
    page.set_viewport_size(DESKTOP)
    page.goto(served["public"])
    for question in questions:
        answer = ask(page, question)
        where = page.evaluate(_NEWEST)
        assert where["inner"] == "auto"
        assert where["box"] - 1 <= where["row"] <= where["bottom"] - 120, where
        first_line = answer.locator(".ans-text").bounding_box()
        assert first_line["y"] + 20 <= where["bottom"]
    page.set_viewport_size(PHONE)
    page.goto(served["public"])
    for question in questions:
        ask(page, question)
        where = page.evaluate(_NEWEST)
        assert where["inner"] == "visible"  # no scroll box inside the scrolling page
        assert 0 <= where["row"] <= where["view"] - 200, where


def test_no_action_icons_under_a_streaming_or_error_answer(page: Any, served: dict):
    """The icons sit in the element after the answer's row; the answer's state is a class on
    its bubble (set here on a finished answer, as the stream and the error bubble set it)."""
    page.set_viewport_size(DESKTOP)
    page.goto(served["public"])
    ask(page, MINI_QUESTIONS[0][0])
    icons = page.locator("#chat .bot-row + .message-buttons").last
    assert icons.is_visible()
    for state in ("streaming", "error"):
        page.evaluate("s => document.querySelector('#chat .zone-answer').classList.add(s)", state)
        assert not icons.is_visible(), state
        page.evaluate(
            "s => document.querySelector('#chat .zone-answer').classList.remove(s)", state
        )
        assert icons.is_visible()
