"""The investor's web chat (Gradio) and its `ask` API endpoint."""

from __future__ import annotations

import html
import logging
from typing import Any

from assistant.errors import AssistantError
from assistant.pipeline import Assistant
from assistant.schema import Answer
from assistant.settings import Settings

logger = logging.getLogger(__name__)

EXAMPLES = [
    "中电光谷招商落户了多少家市场主体？",
    "平台公司资产总额是多少？",
    "开发区与辛安街道制定了什么意见？",
    "How many projects did the platform companies bring in?",
]

CSS = """
.gradio-container { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC",
  "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif; }
.src-card { border: 1px solid #d0d7de; border-radius: 8px; padding: 8px 10px; margin: 6px 0;
  line-height: 1.6; word-break: break-word; }
.src-card mark { background: #fff3b0; }
.refused { color: #8a5a00; font-weight: 600; }
"""


def format_answer(answer: Answer) -> str:
    """The chat message for an answer: escaped text, then one card per cited source."""
    body = html.escape(answer.answer)
    if answer.refused:
        return f'<span class="refused">{body}</span>'
    cards = []
    for c in answer.citations:
        ctx = next((x for x in answer.contexts if x.chunk_id == c.chunk_id), None)
        passage = ctx.text if ctx else c.quote
        start = passage.find(c.quote)
        if start >= 0:
            shown = (
                html.escape(passage[:start])
                + "<mark>" + html.escape(c.quote) + "</mark>"
                + html.escape(passage[start + len(c.quote):])
            )
        else:
            shown = html.escape(passage)
        where = f"第{ctx.paragraph}段, 字符 {c.char_start}–{c.char_end}" if ctx else ""
        cards.append(
            f'<div class="src-card" id="src-{c.n}"><b>[{c.n}] {html.escape(c.title or c.source)}</b>'
            f" <small>{html.escape(c.source)} · {where}</small><br>{shown}</div>"
        )
    return body + "\n\n" + "".join(cards)


def create_app(assistant: Assistant, settings: Settings) -> Any:
    """Build the Gradio Blocks app around an assistant."""
    import gradio as gr

    def respond(message: str, history: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
        previous = [str(m["content"]) for m in history if m.get("role") == "user" and isinstance(m.get("content"), str)]
        try:
            answer = assistant.ask(message, history=previous)
            reply = format_answer(answer)
        except AssistantError as exc:
            reply = html.escape(f"Error: {exc}")
        history = history + [
            {"role": "user", "content": html.escape(message)},
            {"role": "assistant", "content": reply},
        ]
        return "", history

    def ask(question: str) -> dict[str, Any]:
        """Answer one question; returns the same JSON object as `zone-assistant ask --json`."""
        try:
            return assistant.ask(question).to_json()
        except AssistantError as exc:
            return {"error": str(exc)}

    with gr.Blocks(title="青岛开发区改革问答 · Zone reform assistant") as demo:
        gr.Markdown(
            "## 青岛经济技术开发区改革问答\n"
            "Answers quote the source articles; every [n] links to the passage it comes from. "
            f"<small>({html.escape(assistant.description)})</small>"
        )
        chatbot = gr.Chatbot(label="对话 / Chat", height=520, sanitize_html=True, feedback_options=None)
        box = gr.Textbox(label="问题 / Question", placeholder=EXAMPLES[0], elem_id="question")
        with gr.Row():
            send = gr.Button("提问 / Ask", variant="primary", elem_id="ask-button")
            clear = gr.Button("清空 / Clear")
        gr.Examples(EXAMPLES, inputs=box)
        box.submit(respond, [box, chatbot], [box, chatbot], api_visibility="private")
        send.click(respond, [box, chatbot], [box, chatbot], api_visibility="private")
        clear.click(lambda: ("", []), None, [box, chatbot], api_visibility="private")
        gr.api(ask, api_name="ask")
    return demo


def launch(assistant: Assistant, settings: Settings, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Serve the app until interrupted."""
    demo = create_app(assistant, settings)
    demo.queue(default_concurrency_limit=4).launch(
        server_name=host, server_port=port, css=CSS, show_error=False
    )
