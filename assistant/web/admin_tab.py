"""The knowledge-base admin tab, built only when ASSISTANT_ADMIN_PASSWORD is set.

Logging in is not a Gradio event: the page posts the password to `admin/login`, which the
gatekeeper (assistant/web/gate.py) answers itself, with a per-client backoff that never occupies the
shared queue, and sets an admin cookie bound to this page. Every admin event then needs that
cookie twice: the gatekeeper refuses the event before Gradio's queue without it, and each handler
checks it again from the request. Every admin event is `api_visibility="private"`.

No `from __future__ import annotations`: Gradio reads the handlers' gr.Request hints at runtime.
"""

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from assistant.admin import TABLE_HEADERS, KnowledgeAdmin
from assistant.web.gate import EventRoles, Gatekeeper
from ingest.load import SUPPORTED_EXTENSIONS

logger = logging.getLogger(__name__)

LOCKED = "请先输入管理员密码 · Enter the admin password first"
# The admin's result lines, labelled in Chinese as the chat is (the detail stays as ingest says
# it: file names and reasons). Longest first, so "finished an upload …: added:" is one label.
LABELS = (
    ("finished an upload interrupted by a stop: ", "已完成中断的上传"),
    ("no date found for: ", "未找到发表日期"),
    ("not found: ", "未找到"),
    ("rejected: ", "未接受"),
    ("deleted: ", "已删除"),
    ("failed: ", "失败"),
    ("repost: ", "转载"),
    ("added: ", "已添加"),
    ("updated: ", "已更新"),
    ("unchanged: ", "未改变"),
    ("files: ", "文件"),
    ("Error: ", "错误"),
)
PROGRESS = {
    "reading files": "读取文件 · reading files",
    "scanning the knowledge folder": "扫描知识库文件夹 · scanning the knowledge folder",
    "embedding": "向量化 · embedding",
}


def bilingual(lines: Sequence[str]) -> str:
    """Result lines for the admin tab: each led by its Chinese label ("已删除 · deleted: …")."""
    out = []
    for line in lines:
        zh = next((zh for en, zh in LABELS if line.startswith(en)), "")
        out.append(f"{zh} · {line}" if zh else line)
    return "\n".join(out)


UNLOCKED = "已登录 · Unlocked"
ADMIN_GROUP = "admin"

Rows = list[list[Any]]
ProgressFn = Callable[[int, int, str], None]

# Posts the password to the gatekeeper (relative URL: works under a reverse proxy's sub-path)
# and shows its answer; the page never learns whether the cookie is set other than by trying.
LOGIN_JS = """
async (password) => {
  try {
    const r = await fetch("admin/login", {method: "POST", credentials: "same-origin",
      headers: {"content-type": "application/json"}, body: JSON.stringify({password})});
    const body = await r.json().catch(() => ({}));
    if (r.ok) return ["已登录 · Unlocked", ""];
    if (r.status === 429) return ["请稍候再试 · " + (body.error || "too many attempts"), ""];
    const wait = body.retry_after_s ? `; wait ${Math.ceil(body.retry_after_s)} s` : "";
    return ["密码错误 · Wrong password" + wait, ""];
  } catch (e) {
    return ["无法连接 · The server cannot be reached", password];
  }
}
"""


class AdminLockedError(PermissionError):
    """An admin action was called without the admin login."""


class AdminHandlers:
    """The admin tab's handlers as plain methods: each takes whether the request carries a valid
    admin login first (the Gradio wrappers read it from the request's cookies)."""

    def __init__(self, admin: KnowledgeAdmin) -> None:
        self.admin = admin

    @staticmethod
    def require(allowed: object) -> None:
        """Raise AdminLockedError unless the request is logged in."""
        if allowed is not True:
            raise AdminLockedError(LOCKED)

    def listing(self, allowed: object) -> tuple[Rows, list[str]]:
        """The article table and the choices for deletion."""
        self.require(allowed)
        return self.admin.rows(), self.admin.sources()

    def upload(
        self,
        allowed: object,
        files: Sequence[str | Path] | None,
        progress: ProgressFn | None = None,
    ) -> tuple[str, Rows, list[str]]:
        """Ingest uploaded files; returns (result log, table, delete choices)."""
        self.require(allowed)
        messages = self.admin.upload([Path(f) for f in files or []], progress)
        return bilingual(messages), *self.listing(allowed)

    def delete(self, allowed: object, source: str | None) -> tuple[str, Rows, list[str]]:
        """Delete one article (the tab asks for confirmation first); returns (result log,
        table, delete choices)."""
        self.require(allowed)
        return bilingual([self.admin.delete(source or "")]), *self.listing(allowed)

    def rebuild_question(self, allowed: object) -> str:
        """What the rebuild's confirmation asks: which articles' index it replaces, from where."""
        self.require(allowed)
        sources = self.admin.sources()
        shown = ", ".join(sources[:5]) + (f" … (+{len(sources) - 5})" if len(sources) > 5 else "")
        folder = self.admin.settings.knowledge_dir
        return (
            f"重建将替换 {len(sources)} 篇文章的索引（{shown or '无'}），"
            f"由 {folder} 中的文件重新生成；新索引至少含一篇文章才会替换旧索引。 · "
            f"Rebuild replaces the index of {len(sources)} articles ({shown or 'none'}) with one "
            f"built anew from the files in {folder}; the old index stays unless the new one "
            "holds at least one article."
        )

    def reindex(
        self, allowed: object, progress: ProgressFn | None = None, rebuild: bool = False
    ) -> tuple[str, Rows, list[str]]:
        """Re-ingest the knowledge folder (incremental, or everything again with `rebuild`);
        returns (result log, table, choices)."""
        self.require(allowed)
        lines = self.admin.reindex(progress, rebuild=rebuild)
        return bilingual(lines), *self.listing(allowed)


def build_admin_tab(
    admin: KnowledgeAdmin, gate: Gatekeeper, declare: EventRoles, notice: str = ""
) -> AdminHandlers:
    """Add the admin tab to the current Blocks; call inside `gr.Tabs()`. `notice` is shown in
    its result box until the first action. Actions on the knowledge base are 'admin' events
    (the gatekeeper wants the admin login); showing and hiding its confirmations are the page's
    own ('chat'), and their handlers check the login themselves."""
    import gradio as gr

    handlers = AdminHandlers(admin)
    tracked = gr.Progress()
    events: dict[str, Any] = {
        "api_visibility": "private",
        "concurrency_id": ADMIN_GROUP,
        "concurrency_limit": 1,
    }

    def allowed(request: gr.Request) -> bool:
        raw = getattr(request, "request", None)
        return gate.admin_ok(dict(raw.cookies) if raw is not None else {})

    @contextmanager
    def shown_as_error() -> Iterator[None]:
        try:
            yield
        except AdminLockedError as exc:
            raise gr.Error(str(exc), print_exception=False) from None  # a user error: no traceback

    def tracker(progress: Any) -> ProgressFn:
        def report(done: int, total: int, stage: str) -> None:
            progress((done, total), desc=PROGRESS.get(stage, stage), unit="texts")

        return report

    with gr.Tab("知识库管理 · Knowledge base", id="admin", elem_id="admin-tab"):
        with gr.Row():
            given = gr.Textbox(
                label="管理员密码 · Admin password", type="password", elem_id="admin-password"
            )
            login = gr.Button("登录 · Unlock", elem_id="admin-login")
        status = gr.Textbox(
            label="状态 · Status", value=LOCKED, interactive=False, elem_id="admin-status"
        )
        with gr.Column(visible=False) as panel:
            table = gr.Dataframe(
                headers=TABLE_HEADERS,
                datatype=["str", "str", "number", "str"],
                interactive=False,
                label="文章 · Articles",
                elem_id="admin-table",
            )
            files = gr.File(
                label="上传文件 · Upload files (" + " ".join(SUPPORTED_EXTENSIONS) + ")",
                file_count="multiple",
                file_types=list(SUPPORTED_EXTENSIONS),
                type="filepath",
                elem_id="admin-upload",
            )
            with gr.Row():
                upload = gr.Button(
                    "上传并入库 · Upload & ingest", variant="primary", elem_id="admin-upload-button"
                )
                reindex = gr.Button("重新索引 · Re-index folder", elem_id="admin-reindex")
                rebuild = gr.Button("全部重建 · Rebuild everything", elem_id="admin-rebuild")
            with gr.Row():
                choice = gr.Dropdown(label="文章 · Article", choices=[], elem_id="admin-choice")
                delete = gr.Button("删除… · Delete…", variant="stop", elem_id="admin-delete")
            with gr.Row(visible=False) as confirm_row:
                confirm_text = gr.Markdown(elem_id="admin-confirm-text")
                confirm = gr.Button(
                    "确认删除 · Confirm delete", variant="stop", elem_id="admin-confirm"
                )
                cancel = gr.Button("取消 · Cancel", elem_id="admin-cancel")
            with gr.Row(visible=False) as rebuild_row:
                rebuild_text = gr.Markdown(elem_id="admin-rebuild-text")
                confirm_rebuild = gr.Button(
                    "确认重建 · Confirm rebuild", variant="stop", elem_id="admin-rebuild-confirm"
                )
                cancel_rebuild = gr.Button("取消 · Cancel", elem_id="admin-rebuild-cancel")
            log = gr.Textbox(
                label="结果 · Result", lines=6, interactive=False, elem_id="admin-log", value=notice
            )

        def on_view(request: gr.Request) -> tuple[Any, ...]:
            ok = allowed(request)
            rows, sources = handlers.listing(ok) if ok else ([], [])
            return gr.Column(visible=ok), rows, gr.Dropdown(choices=sources, value=None)

        def on_upload(paths: list[str] | None, request: gr.Request, progress: Any = tracked) -> Any:
            with shown_as_error():
                handlers.require(allowed(request))
                progress(0, desc=PROGRESS["reading files"])
                text, rows, sources = handlers.upload(True, paths, tracker(progress))
            return text, rows, gr.Dropdown(choices=sources, value=None), None

        def on_ask_delete(source: str | None) -> Any:
            if not source:
                return gr.Row(visible=False), "", "请选择文章 · Choose an article first"
            question = f"删除 **{source}**（索引与文件）？ · Delete **{source}** (index and file)?"
            return gr.Row(visible=True), question, ""

        def on_delete(source: str | None, request: gr.Request) -> Any:
            with shown_as_error():
                text, rows, sources = handlers.delete(allowed(request), source)
            return text, rows, gr.Dropdown(choices=sources, value=None), gr.Row(visible=False)

        def on_ask_rebuild(request: gr.Request) -> Any:
            with shown_as_error():
                question = handlers.rebuild_question(allowed(request))
            return gr.Row(visible=True), question

        def reindexing(full: bool) -> Callable[..., Any]:
            def on_reindex(request: gr.Request, progress: Any = tracked) -> Any:
                with shown_as_error():
                    handlers.require(allowed(request))
                    progress(0, desc=PROGRESS["scanning the knowledge folder"])
                    text, rows, sources = handlers.reindex(True, tracker(progress), rebuild=full)
                return text, rows, gr.Dropdown(choices=sources, value=None), gr.Row(visible=False)

            on_reindex.__name__ = "on_rebuild" if full else "on_reindex"
            return on_reindex

        listing = [panel, table, choice]
        private: dict[str, Any] = {"api_visibility": "private"}
        for trigger in (login.click, given.submit):
            logged_in = trigger(None, [given], [status, given], js=LOGIN_JS, **private)
            declare.declare("chat", logged_in, logged_in.then(on_view, None, listing, **private))
        declare.declare(
            "admin",
            upload.click(on_upload, [files], [log, table, choice, files], **events),
            confirm.click(on_delete, [choice], [log, table, choice, confirm_row], **events),
            reindex.click(reindexing(False), None, [log, table, choice, rebuild_row], **events),
            confirm_rebuild.click(
                reindexing(True), None, [log, table, choice, rebuild_row], **events
            ),
        )
        declare.declare(
            "chat",
            delete.click(on_ask_delete, [choice], [confirm_row, confirm_text, log], **private),
            cancel.click(lambda: gr.Row(visible=False), None, [confirm_row], **private),
            rebuild.click(on_ask_rebuild, None, [rebuild_row, rebuild_text], **private),
            cancel_rebuild.click(lambda: gr.Row(visible=False), None, [rebuild_row], **private),
        )
    return handlers
