"""The public side over raw HTTP, as an attacker without the page would use it: only asking is
open, admin and chat events need their cookies, logins back off per client without touching the
queue, sessions stay with their page, and each client has a request budget."""

from __future__ import annotations

import json
import math
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from tests.ui_support import MINI_QUESTIONS, build_mini, running_app, variant

pytestmark = [pytest.mark.server, pytest.mark.integration]

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    """One admin-enabled server over a private copy of the mini corpus, with a small budget."""
    app = build_mini(tmp_path_factory.mktemp("gate"), admin_password=PASSWORD)
    app = variant(app, rate_burst=30, rate_per_minute=600, trust_forwarded_for=True)
    with running_app(app) as url:
        yield {"url": url.rstrip("/"), "app": app, "config": httpx.get(url + "config").json()}


def fn_index(served: dict, name: str) -> int:
    """The id of the event whose Python function is `name` (as the page's config lists it)."""
    demo_fns = {d["id"]: d for d in served["config"]["dependencies"]}
    for dep_id, dep in demo_fns.items():
        if dep.get("api_name") == name:
            return int(dep_id)
    raise AssertionError(f"no event {name}")


def api_answer(client: httpx.Client, url: str, question: str) -> str:
    """Ask through the public API (POST, then read the event's stream); the answer text."""
    posted = client.post(url + "/gradio_api/call/ask", json={"data": [question]})
    assert posted.status_code == 200, posted.status_code
    stream = client.get(url + f"/gradio_api/call/ask/{posted.json()['event_id']}").text
    data = [line[5:] for line in stream.splitlines() if line.startswith("data:")]
    return str(json.loads(data[-1])[0]["answer"])


class Browser:
    """A client with its own cookie jar and client address (X-Forwarded-For)."""

    def __init__(self, served: dict, address: str) -> None:
        self.url = served["url"]
        self.http = httpx.Client(timeout=30, headers={"x-forwarded-for": address})

    def open_page(self) -> Browser:
        assert self.http.get(self.url + "/").status_code == 200
        assert "zone_page" in self.http.cookies
        return self

    def login(self, password: str) -> httpx.Response:
        return self.http.post(self.url + "/admin/login", json={"password": password})

    def join(self, index: int, data: list, session: str) -> httpx.Response:
        body = {"data": data, "fn_index": index, "session_hash": session, "event_data": None,
                "trigger_id": None}  # fmt: skip
        return self.http.post(self.url + "/gradio_api/queue/join", json=body)

    def result(self, session: str) -> dict[str, Any]:
        url = self.url + f"/gradio_api/queue/data?session_hash={session}"
        with self.http.stream("GET", url) as stream:
            assert stream.status_code == 200, stream.status_code
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    message = json.loads(line[5:])
                    if message.get("msg") == "process_completed":
                        return message
        raise AssertionError("no result")


def test_only_ask_is_reachable_without_the_page(served: dict):
    url, anon = served["url"], Browser(served, "10.0.0.1")
    for name in ("on_reindex", "on_rebuild", "on_delete", "on_upload", "respond", "on_view"):
        assert (
            anon.http.post(url + f"/gradio_api/call/{name}", json={"data": []}).status_code == 404
        )
    assert anon.http.post(url + "/gradio_api/run/ask", json={"data": ["x"]}).status_code == 404
    for name in ("on_reindex", "on_rebuild", "on_delete", "on_upload", "on_view", "respond"):
        index = fn_index(served, name)
        response = anon.join(index, [], "anon-session-1")
        assert response.status_code == 403, name
    assert (
        anon.http.post(url + "/gradio_api/upload", files={"files": ("a.txt", b"x")}).status_code
        == 403
    )
    # The public API answers.
    question, number = MINI_QUESTIONS[0]
    assert number in api_answer(anon.http, url, question)


def test_admin_events_need_the_login_and_a_wrong_password_backs_off(served: dict):
    admin = Browser(served, "10.0.0.2").open_page()
    reindex = fn_index(served, "on_reindex")
    assert admin.join(reindex, [], "admin-session-1").status_code == 403  # page, no login
    wrong = admin.login("guess")
    assert wrong.status_code == 401 and wrong.json()["retry_after_s"] == 1.0
    t0 = time.monotonic()
    blocked = admin.login(PASSWORD)  # even the right password waits out the backoff
    assert blocked.status_code == 429 and time.monotonic() - t0 < 0.5
    assert int(blocked.headers["retry-after"]) >= 1
    time.sleep(1.1)
    assert admin.login(PASSWORD).status_code == 200
    assert "zone_admin" in admin.http.cookies
    assert admin.join(reindex, [], "admin-session-1").status_code == 200
    message = admin.result("admin-session-1")
    assert message["success"] is True
    assert message["output"]["data"][0].startswith("文件 · files: 0 added, 0 updated, 2 unchanged")
    # The admin cookie alone, carried to another page, is not a login.
    thief = Browser(served, "10.0.0.3").open_page()
    thief.http.cookies.set("zone_admin", admin.http.cookies["zone_admin"])
    assert thief.join(reindex, [], "thief-session-1").status_code == 403


def test_a_login_flood_never_delays_questions(served: dict):
    """300 wrong passwords from one client are answered at once (429) and asking goes on."""
    flood = Browser(served, "10.0.0.4").open_page()
    codes: list[int] = []

    def hammer() -> None:
        for _ in range(300):
            codes.append(flood.login("wrong").status_code)

    thread = threading.Thread(target=hammer)
    t0 = time.monotonic()
    thread.start()
    asker = Browser(served, "10.0.0.5")
    question, number = MINI_QUESTIONS[1]
    text = api_answer(asker.http, served["url"], question)
    thread.join(timeout=60)
    elapsed = time.monotonic() - t0
    assert number in text
    # The wait doubles after each wrong password (1 s, 2 s, 4 s, ...): over `elapsed` seconds at
    # most 1 + log2(1 + elapsed) passwords are looked at, however slow the machine; the rest
    # are answered 429 without looking.
    checked = codes.count(401)
    assert 1 <= checked <= 1 + math.log2(1 + elapsed), (checked, elapsed)
    assert codes.count(429) == 300 - checked
    assert elapsed < 30


def test_a_session_belongs_to_its_page(served: dict):
    owner = Browser(served, "10.0.0.6").open_page()
    respond = fn_index(served, "respond")
    question, number = MINI_QUESTIONS[2]
    assert owner.join(respond, [question, []], "owned-session-1").status_code == 200
    other = Browser(served, "10.0.0.7").open_page()
    assert other.join(respond, [question, []], "owned-session-1").status_code == 403
    stolen = other.http.get(served["url"] + "/gradio_api/queue/data?session_hash=owned-session-1")
    assert stolen.status_code == 403
    message = owner.result("owned-session-1")
    assert message["success"] is True and number in json.dumps(message, ensure_ascii=False)


def test_a_chat_stream_is_not_read_or_joined_through_the_api(served: dict):
    """The API's result route reads a session's stream when given its hash: another client may
    neither read a chat session so nor post into it."""
    owner = Browser(served, "10.0.0.8").open_page()
    respond = fn_index(served, "respond")
    question, number = MINI_QUESTIONS[2]
    assert owner.join(respond, [question, []], "owned-session-2").status_code == 200
    other = Browser(served, "10.0.0.9").open_page()
    call = served["url"] + "/gradio_api/call/ask"
    assert other.http.get(call + "/owned-session-2").status_code == 403
    posted = other.http.post(call, json={"data": ["问题"], "session_hash": "owned-session-2"})
    assert posted.status_code == 403
    message = owner.result("owned-session-2")
    assert message["success"] is True and number in json.dumps(message, ensure_ascii=False)
    question, number = MINI_QUESTIONS[0]
    assert number in api_answer(other.http, served["url"], question)  # its own calls still work


def test_request_bodies_are_bounded_and_streams_are_closed(served: dict):
    client = Browser(served, "10.0.0.10").open_page()
    call = served["url"] + "/gradio_api/call/ask"
    big = {"data": ["问" * (1 << 20)]}  # 3 MB of UTF-8
    assert client.http.post(call, json=big).status_code == 413

    def chunked():  # no Content-Length: cut off as it passes the bound
        for _ in range(40):
            yield b"x" * 65536

    assert client.http.post(call, content=chunked()).status_code == 413
    stream = served["url"] + "/gradio_api/stream/some-event"
    assert client.http.post(stream, json={"data": []}).status_code == 404


def test_each_client_has_a_request_budget(tmp_path: Path):
    app = variant(build_mini(tmp_path), rate_burst=3, rate_per_minute=1, trust_forwarded_for=True)
    with running_app(app) as url:
        served = {"url": url.rstrip("/")}
        busy, calm = Browser(served, "10.0.1.1"), Browser(served, "10.0.1.2")
        ask = served["url"] + "/gradio_api/call/ask"
        codes = [busy.http.post(ask, json={"data": ["问题"]}).status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        assert calm.http.post(ask, json={"data": ["问题"]}).status_code == 200


def test_no_secret_or_internal_address_reaches_the_page(tmp_path: Path):
    secret_url = "http://user:hunter2@10.9.8.7:8000/v1"
    app = build_mini(tmp_path, admin_password=PASSWORD)
    app = variant(app, admin_password=SecretStr(PASSWORD), llm_base_url=secret_url, llm_model="m")
    with running_app(app) as url:
        for path in ("", "config", "gradio_api/info"):
            body = httpx.get(url + path, timeout=10).text
            for leak in ("hunter2", "10.9.8.7", PASSWORD):
                assert leak not in body, (path, leak)


def test_the_server_keeps_a_bounded_number_of_sessions(tmp_path: Path):
    """Every API call is a Gradio session: their state is capped by ASSISTANT_MAX_SESSIONS
    (Gradio's own 10,000 let memory grow for minutes under load: see bench soak)."""
    from assistant.web.ui import create_app
    from eval.processes import free_port

    app = variant(build_mini(tmp_path), max_sessions=12)
    web = create_app(app)
    web.launch("127.0.0.1", free_port(), block=False, quiet=True)
    try:
        url = web.demo.local_url
        question, number = MINI_QUESTIONS[0]
        with httpx.Client(timeout=60) as client:
            for _ in range(20):
                assert number in api_answer(client, url.rstrip("/"), question)
        assert web.demo.state_session_capacity == 12
        assert len(web.demo.state_holder.session_data) <= 12
    finally:
        web.close()
