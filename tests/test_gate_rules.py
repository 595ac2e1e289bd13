"""The gatekeeper's rules in process, on a frozen clock: which address a request counts as, and
how wrong passwords back off (per address and page, and for the whole server)."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import pytest

from assistant.web import gate as gate_module
from assistant.web.gate import PAGE_COOKIE, Gatekeeper, Limits

PASSWORD = "correct horse battery staple"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(gate_module.time, "monotonic", clock)
    return clock


async def _app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def gate(**kw: Any) -> Gatekeeper:
    return Gatekeeper(password=PASSWORD, **kw).wrap(_app)


def request(
    keeper: Gatekeeper, path: str, body: dict | None = None, peer: str = "192.0.2.1",
    forwarded: str | None = None, page: str = "",
) -> tuple[int, dict]:  # fmt: skip
    headers = [] if forwarded is None else [(b"x-forwarded-for", forwarded.encode())]
    if page:
        headers.append((b"cookie", f"{PAGE_COOKIE}={page}".encode()))
    scope = {"type": "http", "method": "POST", "path": path, "headers": headers,
             "client": (peer, 5000), "query_string": b""}  # fmt: skip
    raw = json.dumps(body or {}).encode()
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(keeper(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(payload or b"{}")


def page(keeper: Gatekeeper) -> str:
    """A valid page cookie, as loading the page gives one."""
    return keeper._sign(f"page-{secrets.token_hex(12)}")


def login(keeper: Gatekeeper, password: str, **kw: Any) -> int:
    return request(keeper, "/admin/login", {"password": password}, **kw)[0]


def test_the_client_is_the_entry_our_proxy_appended_not_the_first(clock: Clock):
    """Rotating spoofed first entries of X-Forwarded-For: every wrong password still counts
    against the address the proxy saw, so one is checked and the rest wait."""
    keeper = gate(trust_forwarded_for=True)
    mine = page(keeper)
    codes = [
        login(keeper, "guess", forwarded=f"10.9.{i}.1, 203.0.113.5", page=mine) for i in range(50)
    ]
    assert codes.count(401) == 1 and codes.count(429) == 49


def test_proxy_hops_count_from_the_right_and_a_short_header_is_the_peer():
    keeper = gate(trust_forwarded_for=True, proxy_hops=2)
    scope = {"client": ("10.0.0.9", 1), "headers": [(b"x-forwarded-for", b"6.6.6.6, 203.0.113.5"),
                                                    (b"x-forwarded-for", b"10.0.0.2")]}  # fmt: skip
    assert keeper._client(scope) == "203.0.113.5"
    assert keeper._client({**scope, "headers": [(b"x-forwarded-for", b"10.0.0.2")]}) == "10.0.0.9"
    assert gate()._client(scope) == "10.0.0.9"  # not behind a proxy: the header is ignored


def test_a_shared_address_cannot_lock_the_admin_out(clock: Clock):
    keeper = gate()
    attacker, admin = page(keeper), page(keeper)
    assert [login(keeper, "guess", page=attacker) for _ in range(3)] == [401, 429, 429]
    assert login(keeper, PASSWORD, page=admin) == 200  # same address, its own page


def test_the_server_checks_a_bounded_number_of_wrong_passwords(clock: Clock):
    """A guesser rotating addresses and pages gets 30 checks a minute; the admin's wait for a
    turn is then 2 s."""
    keeper = gate(limits=Limits(failed_logins_per_minute=30))
    codes = [login(keeper, "guess", peer=f"10.1.{i}.1", page=page(keeper)) for i in range(100)]
    assert codes.count(401) == 30 and codes.count(429) == 70
    admin = page(keeper)
    status, body = request(keeper, "/admin/login", {"password": PASSWORD}, page=admin)
    assert status == 429 and body["error"] == "too many attempts; wait 2 s"
    clock.now += 2.0
    assert login(keeper, PASSWORD, page=admin) == 200


def test_every_event_has_the_role_declared_with_it_and_none_by_default():
    from assistant.web.gate import EventRoles

    roles = EventRoles()
    roles.declare("chat", {"id": 0}, {"id": 1})
    roles.declare("admin", {"id": 2})
    assert roles.checked([0, 1, 2]) == {0: "chat", 1: "chat", 2: "admin"}
    with pytest.raises(RuntimeError, match=r"events without a gate role: \[3\]"):
        roles.checked([0, 1, 2, 3])  # a new event nobody declared: the app does not start
    with pytest.raises(ValueError, match="unknown event role"):
        roles.declare("guest", {"id": 4})
