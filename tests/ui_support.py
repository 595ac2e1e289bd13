"""Helpers shared by the web-chat tests: a real assistant over the mini corpus, a running server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eval.processes import free_port
from tests.conftest import FIXTURES, make_app

# An article whose title and text try to run script in the page; it must show up as text.
XSS_TITLE = "<img src=x onerror=window.__xss=2>灯塔岛简报"
XSS_ARTICLE = f"""---
title: "{XSS_TITLE}"
---
　　<script>window.__xss=3</script>灯塔岛今年新建灯塔5座，其中<img src=x onerror=window.__xss=4>两座为太阳能灯塔。
"""
XSS_QUESTION = "灯塔岛今年新建灯塔多少座？"

# Questions over tests/fixtures/mini and the number (with its unit) each answer must contain.
MINI_QUESTIONS = [
    ("海港新区新引进重点项目多少个？", "42个"),
    ("集团资产总额是多少？", "150亿元"),
    ("森林公园新增步道多少公里？", "12公里"),
    ("投资超亿元的项目有多少个？", "17个"),
    ("海港发展集团下设几个子公司？", "3个子公司"),
]


def build_mini(root: Path, xss_article: bool = False, **overrides: object) -> Any:
    """The real app over a copy of the mini corpus under root, ingested, assistant warmed up."""
    knowledge = root / "knowledge"
    shutil.copytree(FIXTURES / "mini", knowledge)
    if xss_article:
        (knowledge / "xss.md").write_text(XSS_ARTICLE, encoding="utf-8")
    app = make_app(root / "data", knowledge, **overrides)
    summary = app.ingest()
    assert summary.exit_code == 0, summary.lines()
    app.assistant.warm_up()
    return app


def variant(app: Any, **updates: object) -> Any:
    """An app over the same data and knowledge, with some settings changed."""
    from assistant.app import build_app

    return build_app(app.settings.model_copy(update=updates))


@contextmanager
def running_app(app: Any, stream_delay: float = 0.0) -> Iterator[str]:
    """Serve the real app on a free 127.0.0.1 port, as `zone-assistant serve` does (behind its
    gatekeeper); yield its URL."""
    from assistant.web.ui import create_app

    web = create_app(app, stream_delay=stream_delay)
    port = free_port()
    web.launch("127.0.0.1", port, block=False, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        web.close()
