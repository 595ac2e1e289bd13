"""The investor's web chat (Gradio): streamed cited answers, feedback, export, and the `ask` API.

`import assistant.web.ui` stays light: Gradio is imported inside `create_app`/`launch` only. No
`from __future__ import annotations` here: Gradio reads the gr.Request/gr.LikeData hints of the
handlers at runtime.
"""

import html
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from assistant.app import App
from assistant.profile import KnowledgeProfile
from assistant.settings import Settings
from assistant.web.chat import STREAM_DELAY_S, ChatController, ChatUpdate, public_message
from assistant.web.feedback import FeedbackStore
from assistant.web.gate import EventRoles, Gatekeeper, Limits
from assistant.web.render import CLOSER_LABEL, Turn
from ingest.errors import UserError

logger = logging.getLogger(__name__)

# 2 cores: a few answers at once keep both busy; the rest wait in the queue (20 users are fine).
ANSWER_CONCURRENCY = 4
QUEUE_MAX_SIZE = 256
ANSWER_GROUP = "answer"


DEFAULT_DESCRIPTION = (
    "回答只引用知识库中的原文；点击 [n] 查看出处。 Answers quote the source articles; "
    "every [n] links to the passage it comes from."
)


def header_html(profile: KnowledgeProfile) -> str:
    """The page header: the knowledge base's title in both languages, what answers are."""
    return (
        f'<div class="zone-header"><h2>{html.escape(profile.heading)}</h2>'
        f"<p>{html.escape(profile.description or DEFAULT_DESCRIPTION)}</p></div>"
    )


def about_html(description: str) -> str:
    """The page's foot: which models answer, folded (it means little to an investor)."""
    return (
        '<details class="zone-about"><summary>关于 · About</summary>'
        f'<p class="zone-model">{html.escape(description)}</p></details>'
    )


@dataclass
class WebApp:
    """The Gradio Blocks and the gatekeeper in front of them (assistant/web/gate.py)."""

    demo: Any
    gate: Gatekeeper
    settings: Settings

    def launch(self, host: str, port: int, block: bool = True, quiet: bool = False) -> None:
        """Serve on host:port behind the gatekeeper (until interrupted when `block`)."""
        from starlette.middleware import Middleware

        self.demo.queue(default_concurrency_limit=ANSWER_CONCURRENCY, max_size=QUEUE_MAX_SIZE)
        self.demo.launch(
            server_name=host,
            server_port=port,
            prevent_thread_lock=not block,
            quiet=quiet,
            app_kwargs={"middleware": [Middleware(self.gate.wrap)]},
            state_session_capacity=self.settings.max_sessions,
            **launch_kwargs(self.settings),
        )

    def close(self) -> None:
        """Stop serving."""
        self.demo.close()


def gatekeeper(settings: Settings) -> Gatekeeper:
    """The gatekeeper with the settings' limits, password and cookie secret."""
    gate = Gatekeeper(
        password=settings.admin_password.get_secret_value() if settings.admin_password else None,
        limits=Limits(per_minute=settings.rate_per_minute, burst=settings.rate_burst),
        trust_forwarded_for=settings.trust_forwarded_for,
        proxy_hops=settings.proxy_hops,
    )
    if settings.session_secret is not None:
        gate.secret = settings.session_secret.get_secret_value().encode()
    return gate


def create_app(app: App, stream_delay: float = STREAM_DELAY_S) -> WebApp:
    """Build the Gradio Blocks app around the process's App (its assistant loads once)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    settings, profile, assistant = app.settings, app.profile, app.assistant
    gate = gatekeeper(settings)
    export_dir = Path(tempfile.mkdtemp(prefix="zone-export-"))
    feedback = FeedbackStore.in_data_dir(settings.data_dir)
    chat = ChatController(assistant, feedback, export_dir, stream_delay, title=profile.title)
    declare = EventRoles()
    with gr.Blocks(
        title=profile.heading, analytics_enabled=False, delete_cache=(3600, 3600)
    ) as demo:
        gr.HTML(header_html(profile))
        with gr.Tabs():
            with gr.Tab("问答 · Chat", id="chat"):
                _chat_tab(gr, chat, profile, declare)
            if settings.admin_password is not None:
                from assistant.web.admin_tab import build_admin_tab

                # Uploads a stopped server had not settled are finished now, and said in the tab.
                notice = "\n".join(app.admin.recover())
                build_admin_tab(app.admin, gate, declare, notice=notice)
        gr.HTML(about_html(assistant.description))

        def ask(question: str) -> dict[str, Any]:
            """Answer one question; returns the same JSON object as `zone-assistant ask --json`."""
            try:
                return chat.ask_json(question)
            except UserError as exc:
                raise gr.Error(public_message(exc), print_exception=False) from None

        api = gr.api(
            ask, api_name="ask", concurrency_id=ANSWER_GROUP, concurrency_limit=ANSWER_CONCURRENCY
        )
        declare.declare("ask", api)
    gate.roles = declare.checked(demo.fns)
    return WebApp(demo, gate, settings)


def _chat_tab(
    gr: Any, chat: ChatController, profile: KnowledgeProfile, declare: EventRoles
) -> None:
    """The chat tab's components and events (all private: the public API is `ask` only)."""
    reads_closer = chat.assistant.reader is not None
    _chat_events(gr, chat, _chat_components(gr, profile, reads_closer), declare)


def _chat_components(gr: Any, profile: KnowledgeProfile, reads_closer: bool) -> SimpleNamespace:
    """The chat tab's components, laid out; the profile gives the placeholder and examples."""
    turns = gr.State([])
    chatbot = gr.Chatbot(
        label="对话 · Chat",
        show_label=False,
        elem_id="chat",
        height=560,
        autoscroll=False,  # SCROLL_JS places each new question at the top instead
        sanitize_html=True,
        allow_tags=False,
        latex_delimiters=[],
        buttons=[],  # a copy button would copy the HTML markup; use the Markdown export
        feedback_options=("Like", "Dislike"),
        placeholder=(
            f"请输入关于「{profile.title}」的问题 · Ask a question about: {profile.title_en}"
        ),
    )
    examples = profile.example_questions
    with gr.Row(equal_height=True):
        box = gr.Textbox(
            label="问题 · Question",
            placeholder=examples[0] if examples else "",
            elem_id="question",
            max_lines=6,
            scale=6,
        )
        send = gr.Button("提问 · Ask", variant="primary", elem_id="ask-button", scale=1)
    # Right under the question box (on a phone too), and a click asks the question. A Dataset,
    # not gr.Examples: the latter fills the box through Gradio's unqueued /run/predict route,
    # which the gatekeeper does not serve, and does not ask.
    picked = gr.Dataset(
        components=[box],
        samples=[[q] for q in examples],
        label="示例问题 · Example questions",
        elem_id="examples",
        visible=bool(examples),
    )
    with gr.Row():
        retry = gr.Button("重试 · Retry", elem_id="retry-button")
        # Where a reader is configured (ASSISTANT_LLM_ROLE=read): its answer to the last
        # question, from the passages the answer decision ranks best.
        closer = gr.Button(CLOSER_LABEL, elem_id="read-closer-button", visible=reads_closer)
        clear = gr.Button("清空 · Clear", elem_id="clear-button")
    with gr.Row():
        download_all = gr.DownloadButton(
            "下载对话 · Download conversation (.md)",
            interactive=False,
            elem_id="download-conversation",
        )
        download_word = gr.DownloadButton(
            "下载 Word 简报 · Download as Word (.docx)",
            interactive=False,
            elem_id="download-word",
        )
        download_one = gr.DownloadButton(
            "下载最新回答 · Download last answer (.md)",
            interactive=False,
            elem_id="download-answer",
        )
    return SimpleNamespace(
        turns=turns, chatbot=chatbot, box=box, send=send, retry=retry, clear=clear, closer=closer,
        download_all=download_all, download_word=download_word, download_one=download_one,
        examples=picked,
    )  # fmt: skip


def _chat_events(gr: Any, chat: ChatController, ui: SimpleNamespace, declare: EventRoles) -> None:
    """Wire the chat's events: answering ones share the answer queue, all are private."""
    turns, chatbot, box = ui.turns, ui.chatbot, ui.box
    answering: dict[str, Any] = {
        "api_visibility": "private",
        "concurrency_id": ANSWER_GROUP,
        "concurrency_limit": ANSWER_CONCURRENCY,
    }
    private: dict[str, Any] = {"api_visibility": "private"}
    # Gradio drops a click on Ask (or Enter) while the previous question's event is still in
    # flight, which it is for a moment after its answer shows (trigger_mode "once"): the next
    # question, asked at once, was lost (a browser test caught it under load). "always_last"
    # sends it when that event ends; a second click on one question then finds the box empty,
    # and an empty box is no question.
    reading_the_box = {**answering, "trigger_mode": "always_last"}

    def downloads(state: list[Turn], request: gr.Request) -> tuple[Any, Any, Any]:
        files = chat.export(state, getattr(request, "session_hash", None) or "local")
        return tuple(
            gr.DownloadButton(value=path, interactive=path is not None)
            for path in (files.conversation, files.word, files.last)
        )

    def on_retry(state: list[Turn], data: gr.RetryData) -> Iterator[ChatUpdate]:
        index = data.index if isinstance(data.index, int) else None
        yield from chat.retry(state, index)

    def on_like(state: list[Turn], data: gr.LikeData) -> list[Turn]:
        index = data.index if isinstance(data.index, int) else data.index[0]
        updated = chat.rate(state, index, data.liked)
        if updated is not state:
            gr.Info("已记录反馈，谢谢 · Feedback saved, thank you")
        return updated

    def on_example(sample: list[str], state: list[Turn]) -> Iterator[ChatUpdate]:
        yield from chat.respond(sample[0] if sample else "", state)

    outputs = [box, chatbot, turns]
    events = [
        ui.examples.click(on_example, [ui.examples, turns], outputs, **answering),
        box.submit(chat.respond, [box, turns], outputs, **reading_the_box),
        ui.send.click(chat.respond, [box, turns], outputs, **reading_the_box),
        ui.retry.click(chat.retry, [turns], outputs, **answering),
        ui.closer.click(chat.read_closer, [turns], outputs, **answering),
        chatbot.retry(on_retry, [turns], outputs, **answering),
        ui.clear.click(chat.clear, None, outputs, **private),
        chatbot.clear(chat.clear, None, outputs, **private),
    ]
    for event in events:  # keep the Markdown downloads in step with the conversation
        exported = event.then(
            downloads, [turns], [ui.download_all, ui.download_word, ui.download_one], **private
        )
        declare.declare("chat", event, exported)
    declare.declare("chat", chatbot.like(on_like, [turns], [turns], **private))


SANS_FONTS = [
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "PingFang SC",
    "Microsoft YaHei",
    "sans-serif",
]
MONO_FONTS = ["Noto Sans Mono CJK SC", "DejaVu Sans Mono", "monospace"]


def theme() -> Any:
    """A theme with system fonts (CJK first): nothing is fetched from a font CDN."""
    import gradio as gr

    return gr.themes.Soft(font=SANS_FONTS, font_mono=MONO_FONTS)


CSS = """
.zone-header h2 { margin: 0 0 4px 0; }
.zone-header p { margin: 2px 0; }
.zone-model { font-size: 0.85em; opacity: 0.75; }
.zone-answer, .zone-question { line-height: 1.75; word-break: break-word; overflow-wrap: anywhere; }
.short-answer { font-size: 1.15em; font-weight: 700; margin-bottom: 4px; }
.zone-answer a.cite { color: #0b6bcb; text-decoration: none; font-weight: 600; padding: 0 1px; }
.src-cards { margin-top: 10px; border-top: 1px dashed #c8ced6; padding-top: 6px; }
.src-label { font-size: 0.8em; font-weight: 600; opacity: 0.7; margin-bottom: 2px; }
.src-card { border: 1px solid #d0d7de; border-radius: 8px; padding: 8px 10px; margin: 6px 0;
  scroll-margin-top: 24px; }
.src-card:target { outline: 2px solid #e8a400; }
.src-head { font-size: 0.95em; }
.src-n { font-weight: 700; color: #0b6bcb; }
.src-pos { font-size: 0.8em; opacity: 0.7; margin: 2px 0 4px 0; }
.src-text { font-size: 0.92em; }
.src-text mark { background: #fff0a8; color: inherit; padding: 0 1px; border-radius: 2px; }
.refusal-badge { display: inline-block; background: #fff4e5; color: #8a5a00;
  border: 1px solid #f0c36d; border-radius: 4px; padding: 0 8px; font-size: 0.85em;
  font-weight: 600; margin-bottom: 4px; }
.zone-answer.refused .ans-text { color: #8a5a00; }
.src-card.closest { border-style: dashed; opacity: 0.85; }
.src-card.closest summary { cursor: pointer; }
.zone-answer.error .ans-text { color: #b42318; }
.zone-answer.streaming .ans-text { opacity: 0.85; }
#chat .bot-row:has(.zone-answer.streaming) + .message-buttons,
#chat .bot-row:has(.zone-answer.error) + .message-buttons { display: none; }
@media (max-width: 640px) {  /* a phone: the page scrolls, not a box inside it */
  #chat, #chat > .wrapper { height: auto !important; max-height: none !important; }
  #chat .bubble-wrap { height: auto !important; max-height: none !important;
    overflow-y: visible !important; }
}
"""

# Gradio's autoscroll keeps the end of the last source card in view, so the question and the
# start of its answer were off-screen. Instead: while an answer streams, scroll (the chat box,
# or on a phone the page) until the newest question is at the top; never back up, and stop
# when the answer is done so that the reader's own scrolling wins.
SCROLL_JS = """
() => {
  let seen = 0, following = false;
  const place = () => {
    const chat = document.querySelector('#chat');
    if (!chat) return;
    const rows = chat.querySelectorAll('.user-row');
    if (rows.length !== seen) { following = rows.length > seen; seen = rows.length; }
    if (!following || !rows.length) return;
    const row = rows[rows.length - 1];
    const box = chat.querySelector('.bubble-wrap');
    const inner = box && getComputedStyle(box).overflowY !== 'visible';
    const top = inner ? box.getBoundingClientRect().top : 0;
    const gap = row.getBoundingClientRect().top - top - 8;
    if (gap > 1) { if (inner) { box.scrollTop += gap; } else { window.scrollBy(0, gap); } }
    const answers = chat.querySelectorAll('.zone-answer');
    const end = answers[answers.length - 1];
    const after = end && row.compareDocumentPosition(end) & Node.DOCUMENT_POSITION_FOLLOWING;
    if (after && !end.classList.contains('streaming')) following = false;
  };
  new MutationObserver(place).observe(document.body, {childList: true, subtree: true});
}
"""


def launch_kwargs(settings: Settings) -> dict[str, Any]:
    """The `Blocks.launch` options shared by `launch` and the tests' servers."""
    return {
        "css": CSS,
        "js": SCROLL_JS,
        "theme": theme(),
        "show_error": False,
        "max_file_size": settings.max_file_bytes,
        "footer_links": ["api"],
        "run_history": False,
    }


def launch(app: App, host: str = "127.0.0.1", port: int = 7860, block: bool = True) -> WebApp:
    """Serve the app (until interrupted when `block`; else return it running, to close)."""
    web = create_app(app)
    logger.info("serving the web chat on http://%s:%d/ (%s)", host, port, app.description)
    web.launch(host, port, block=block)
    return web
