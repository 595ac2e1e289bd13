"""The knowledge-base admin tab, built only when ASSISTANT_ADMIN_PASSWORD is set.

Every admin handler checks, server-side, a per-session flag that only a correct password sets
(a gr.State lives on the server; the browser cannot set it), and every admin event is
`api_visibility="private"`, so no API endpoint exists for it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from assistant.admin import TABLE_HEADERS, KnowledgeAdmin, password_matches
from ingest.load import SUPPORTED_EXTENSIONS

logger = logging.getLogger(__name__)

LOCKED = "请先输入管理员密码 · Enter the admin password first"
WRONG = "密码错误 · Wrong password"
UNLOCKED = "已登录 · Unlocked"
FAILED_LOGIN_DELAY_S = 1.0
ADMIN_GROUP = "admin"

Rows = list[list[Any]]
ProgressFn = Callable[[int, int, str], None]


class AdminLockedError(PermissionError):
    """An admin action was called without a correct password in this session."""


class AdminHandlers:
    """The admin tab's handlers as plain methods: each takes the session's `unlocked` flag first."""

    def __init__(
        self, admin: KnowledgeAdmin, password: str, failed_delay: float = FAILED_LOGIN_DELAY_S
    ) -> None:
        self.admin = admin
        self._password = password
        self.failed_delay = failed_delay

    def login(self, given: str | None) -> tuple[bool, str]:
        """Check a password: (unlocked, message). A wrong one is answered slowly."""
        if password_matches(given, self._password):
            logger.info("admin unlocked")
            return True, UNLOCKED
        logger.warning("admin: wrong password")
        time.sleep(self.failed_delay)
        return False, WRONG

    @staticmethod
    def require(unlocked: object) -> None:
        """Raise AdminLockedError unless this session entered the password."""
        if unlocked is not True:
            raise AdminLockedError(LOCKED)

    def listing(self, unlocked: object) -> tuple[Rows, list[str]]:
        """The article table and the choices for deletion."""
        self.require(unlocked)
        return self.admin.rows(), self.admin.sources()

    def upload(
        self,
        unlocked: object,
        files: Sequence[str | Path] | None,
        progress: ProgressFn | None = None,
    ) -> tuple[str, Rows, list[str]]:
        """Ingest uploaded files; returns (result log, table, delete choices)."""
        self.require(unlocked)
        messages = self.admin.upload([Path(f) for f in files or []], progress)
        return "\n".join(messages), *self.listing(unlocked)

    def delete(self, unlocked: object, source: str | None) -> tuple[str, Rows, list[str]]:
        """Delete one article; returns (result log, table, delete choices)."""
        self.require(unlocked)
        return self.admin.delete(source or ""), *self.listing(unlocked)

    def reindex(
        self, unlocked: object, progress: ProgressFn | None = None
    ) -> tuple[str, Rows, list[str]]:
        """Re-ingest the knowledge folder (incremental); returns (result log, table, choices)."""
        self.require(unlocked)
        return "\n".join(self.admin.reindex(progress)), *self.listing(unlocked)


def build_admin_tab(admin: KnowledgeAdmin, password: str) -> AdminHandlers:
    """Add the admin tab to the current Blocks; call inside `gr.Tabs()`."""
    import gradio as gr

    handlers = AdminHandlers(admin, password)
    tracked = gr.Progress()
    events: dict[str, Any] = {
        "api_visibility": "private",
        "concurrency_id": ADMIN_GROUP,
        "concurrency_limit": 1,
    }

    @contextmanager
    def shown_as_error() -> Iterator[None]:
        try:
            yield
        except AdminLockedError as exc:
            raise gr.Error(str(exc)) from None

    def tracker(progress: Any) -> ProgressFn:
        def report(done: int, total: int, stage: str) -> None:
            progress((done, total), desc=stage, unit="chunks")

        return report

    with gr.Tab("知识库管理 · Knowledge base", id="admin", elem_id="admin-tab"):
        unlocked = gr.State(False)
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
                reindex = gr.Button("重新索引 · Re-index folder")
            with gr.Row():
                choice = gr.Dropdown(label="文章 · Article", choices=[], elem_id="admin-choice")
                delete = gr.Button("删除 · Delete", variant="stop")
            log = gr.Textbox(label="结果 · Result", lines=6, interactive=False, elem_id="admin-log")

        def on_login(text: str) -> tuple[Any, ...]:
            ok, message = handlers.login(text)
            rows, sources = handlers.listing(ok) if ok else ([], [])
            choices = gr.Dropdown(choices=sources, value=None)
            return ok, message, "", gr.Column(visible=ok), rows, choices

        def on_upload(flag: bool, paths: list[str] | None, progress: Any = tracked) -> Any:
            with shown_as_error():
                handlers.require(flag)
                progress(0, desc="reading files")
                text, rows, sources = handlers.upload(flag, paths, tracker(progress))
            return text, rows, gr.Dropdown(choices=sources, value=None), None

        def on_delete(flag: bool, source: str | None) -> Any:
            with shown_as_error():
                text, rows, sources = handlers.delete(flag, source)
            return text, rows, gr.Dropdown(choices=sources, value=None)

        def on_reindex(flag: bool, progress: Any = tracked) -> Any:
            with shown_as_error():
                handlers.require(flag)
                progress(0, desc="scanning the knowledge folder")
                text, rows, sources = handlers.reindex(flag, tracker(progress))
            return text, rows, gr.Dropdown(choices=sources, value=None)

        login.click(on_login, [given], [unlocked, status, given, panel, table, choice], **events)
        given.submit(on_login, [given], [unlocked, status, given, panel, table, choice], **events)
        upload.click(on_upload, [unlocked, files], [log, table, choice, files], **events)
        delete.click(on_delete, [unlocked, choice], [log, table, choice], **events)
        reindex.click(on_reindex, [unlocked], [log, table, choice], **events)
    return handlers
