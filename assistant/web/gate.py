"""The gatekeeper in front of the web app: only asking is public.

Gradio serves every event of a page over HTTP (`/gradio_api/call/<name>`, `/gradio_api/queue/join`
with any fn_index), private ones included. This ASGI middleware decides before anything reaches
Gradio's queue:

- the `ask` API is open to any client, within a per-client request budget;
- the chat's own events need the signed cookie the page sets when it loads, and a Gradio session
  belongs to the page that first used it (another client cannot join or read it);
- admin events and uploads need the admin cookie, which only `POST <root>/admin/login` sets;
  failed logins are answered at once with 429 and a growing wait for that client's page (never a
  sleep in the shared queue), the whole server checks a bounded number of wrong passwords a
  minute, and the admin cookie is bound to the page cookie it was issued to;
- everything else of Gradio's API (other named endpoints, /run, /api, /stream) is not found;
- no request body is read past MAX_BODY (uploads: Gradio's own `max_file_size`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PAGE_COOKIE = "zone_page"
ADMIN_COOKIE = "zone_admin"
ADMIN_HOURS = 8
MAX_BODY = 1 << 20  # a queue join is small; anything bigger is not one
_API = ("/gradio_api/call/v2/", "/gradio_api/call/", "/gradio_api/run/", "/gradio_api/api/")
_TRACKED = 10_000  # clients, sessions and login failures remembered (least recent forgotten)


@dataclass
class Limits:
    """Per-client budgets: queued requests (a token bucket) and login failures (backoff); and
    the server's budget of wrong passwords checked."""

    per_minute: float = 60.0
    burst: int = 20
    max_login_wait_s: float = 300.0
    # However many addresses or pages a guesser rotates through, at most this many wrong
    # passwords are checked a minute (43,200 a day), and the admin waits at most 2 s for a turn.
    failed_logins_per_minute: float = 30.0


@dataclass
class _Client:
    tokens: float
    updated: float
    failures: int = 0
    next_login: float = 0.0


class EventRoles:
    """The gatekeeper's role of each Gradio event, declared where the event is declared: 'ask'
    (the public API), 'chat' (a page's own events) or 'admin' (also needs the admin login).
    An event nobody declared has no role, and the app refuses to start with one."""

    ROLES = ("ask", "chat", "admin")

    def __init__(self) -> None:
        self.by_fn: dict[int, str] = {}

    def declare(self, role: str, *events: Any) -> None:
        """Give these events (Gradio dependencies, as `.click()` returns them) a role."""
        if role not in self.ROLES:
            raise ValueError(f"unknown event role {role!r}")
        for event in events:
            self.by_fn[int(event["id"])] = role

    def checked(self, fn_indices: Iterable[int]) -> dict[int, str]:
        """The roles, once every event of the app has one (RuntimeError names those without)."""
        missing = sorted(set(fn_indices) - set(self.by_fn))
        if missing:
            raise RuntimeError(f"events without a gate role: {missing}; declare each event's role")
        return dict(self.by_fn)


@dataclass
class Gatekeeper:
    """ASGI middleware; `roles` maps Gradio fn_index to 'ask', 'chat' or 'admin'."""

    password: str | None = None
    roles: dict[int, str] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    trust_forwarded_for: bool = False
    proxy_hops: int = 1  # proxies of ours that each append to X-Forwarded-For
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    app: ASGIApp = field(default=lambda *_: _unwrapped())
    _clients: OrderedDict[str, _Client] = field(default_factory=OrderedDict)
    _sessions: OrderedDict[str, str] = field(default_factory=OrderedDict)  # session -> page
    # The server's bucket of wrong passwords it may still check (refilled per minute).
    _wrong: _Client = field(default_factory=lambda: _Client(math.inf, time.monotonic()))

    def wrap(self, app: ASGIApp) -> Gatekeeper:
        """Put this gatekeeper in front of `app` (a Starlette `Middleware` factory)."""
        self.app = app
        return self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route one request: answer it here, refuse it, or pass it on to Gradio."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"].rstrip("/") or "/"
        method = scope["method"]
        cookies = _cookies(scope)
        page = self._valid_page(cookies.get(PAGE_COOKIE, ""))
        if not path.endswith("/gradio_api/upload"):
            if _declared_length(scope) > MAX_BODY:
                await _reply(send, 413, {"error": "request body too large"})
                return
            receive = _bounded(receive, MAX_BODY)
        if method == "POST" and path.endswith("/admin/login"):
            await self._login(scope, receive, send, page)
        elif method == "POST" and path.endswith("/admin/logout"):
            await _reply(send, 200, {"success": True}, [_expire(ADMIN_COOKIE)])
        elif any(path.startswith(p) or path.startswith(p.rstrip("/")) for p in _API):
            await self._api(scope, receive, send, path, page)
        elif "/gradio_api/stream/" in path:  # streamed inputs (webcam, audio): none here
            await _reply(send, 404, {"error": "not found"})
        elif path.endswith("/gradio_api/queue/join"):
            await self._join(scope, receive, send, page, cookies)
        elif path.endswith("/gradio_api/queue/data") or path.endswith("/gradio_api/cancel"):
            await self._session_bound(scope, receive, send, page)
        elif path.endswith("/gradio_api/upload"):
            if not self.admin_ok(cookies):
                await _reply(send, 403, {"error": "uploads need the admin login"})
            else:
                await self.app(scope, receive, send)
        elif method == "GET" and not page and _is_page(path):
            await self.app(scope, receive, self._setting_page_cookie(send))
        else:
            await self.app(scope, receive, send)

    # --- the API and the queue ---------------------------------------------------------------

    async def _api(self, scope: Scope, receive: Receive, send: Send, path: str, page: str) -> None:
        name = path.split("/")[-1] if path.count("/") >= 3 else ""
        is_result = scope["method"] == "GET" and "/call/" in path  # /call/ask/<event_id>
        if not ("/call/ask" in path and (is_result or name == "ask")) or "/run/" in path:
            await _reply(send, 404, {"error": "not found; the public API is /gradio_api/call/ask"})
            return
        if is_result:
            # Gradio reads the stream of the session named so when no event has that id: a
            # chat session's stream is its page's alone, as on /queue/data.
            if not self._owns(name, page):
                await _reply(send, 403, {"error": "this session is not yours"})
                return
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        try:
            request: Any = json.loads(body) if body else {}
            session = str(request.get("session_hash") or "")
            shaped = isinstance(request.get("data"), list) and len(request["data"]) == 1
        except (ValueError, TypeError, AttributeError):
            session, shaped = "", True  # Gradio answers a malformed body itself (422)
        if body is None:
            await _reply(send, 413, {"error": "request body too large"})
        elif not shaped:  # Gradio would log a traceback for a wrong number of inputs
            await _reply(send, 422, {"error": 'expected {"data": ["<question>"]}'})
        elif session and not self._owns(session, page):
            await _reply(send, 403, {"error": "this session is not yours"})
        elif not self._spend(self._client(scope)):
            await self._too_many(send)
        else:
            await self.app(scope, _replay(body), send)

    async def _join(
        self, scope: Scope, receive: Receive, send: Send, page: str, cookies: dict[str, str]
    ) -> None:
        body = await _read_body(receive)
        try:
            request: Any = json.loads(body) if body is not None else None
            fn_index, session = int(request["fn_index"]), str(request.get("session_hash") or "")
        except (ValueError, TypeError, KeyError, AttributeError):
            await _reply(send, 400, {"error": "not a queue request"})
            return
        role = self.roles.get(fn_index)
        if role is None:
            await _reply(send, 404, {"error": "no such event"})
            return
        if role != "ask" and not self._bind(session, page):
            await _reply(send, 403, {"error": "open the page first; this session is not yours"})
            return
        if role == "admin" and not self.admin_ok(cookies):
            await _reply(send, 403, {"error": "enter the admin password first"})
            return
        if not self._spend(self._client(scope)):
            await self._too_many(send)
            return
        await self.app(scope, _replay(body or b""), send)

    async def _session_bound(self, scope: Scope, receive: Receive, send: Send, page: str) -> None:
        """Reading or cancelling a session's events: only the page that owns it may."""
        query = parse_qs(scope.get("query_string", b"").decode())
        session = (query.get("session_hash") or [""])[0]
        if not self._owns(session, page):
            await _reply(send, 403, {"error": "this session is not yours"})
            return
        await self.app(scope, receive, send)

    def _owns(self, session: str, page: str) -> bool:
        """The session is this page's, or no page's yet."""
        owner = self._sessions.get(session)
        return owner is None or hmac.compare_digest(owner, page)

    def _bind(self, session: str, page: str) -> bool:
        """A session belongs to the first page that uses it; a join without a page is refused."""
        if not page or not session:
            return False
        owner = self._sessions.setdefault(session, page)
        self._sessions.move_to_end(session)
        while len(self._sessions) > _TRACKED:
            self._sessions.popitem(last=False)
        return hmac.compare_digest(owner, page)

    # --- budgets ---------------------------------------------------------------------------

    def _client(self, scope: Scope) -> str:
        """The client's address: the connection's, or behind our proxies the address the
        outermost of them saw, `proxy_hops` entries from the right of X-Forwarded-For (as
        Werkzeug's ProxyFix counts). The entries left of it are whatever the client sent."""
        client = scope.get("client")
        peer = str(client[0]) if client else "unknown"
        if not self.trust_forwarded_for:
            return peer
        entries = [
            entry.strip()
            for name, value in scope.get("headers", [])
            if name == b"x-forwarded-for"
            for entry in value.decode("latin-1").split(",")
        ]
        entries = [e for e in entries if e]
        # Fewer entries than proxies: the request did not come through all of them.
        return entries[-self.proxy_hops] if len(entries) >= self.proxy_hops else peer

    def _state(self, client: str) -> _Client:
        now = time.monotonic()
        state = self._clients.get(client)
        if state is None:
            state = self._clients[client] = _Client(float(self.limits.burst), now)
            while len(self._clients) > _TRACKED:
                self._clients.popitem(last=False)
        self._clients.move_to_end(client)
        return state

    def _spend(self, client: str) -> bool:
        """Take one request from the client's bucket (refilled at per_minute)."""
        return _take(self._state(client), self.limits.per_minute, self.limits.burst)

    async def _too_many(self, send: Send) -> None:
        wait = math.ceil(60.0 / max(self.limits.per_minute, 1e-9))
        await _reply(
            send, 429, {"error": f"too many requests; try again in {wait} s"},
            [(b"retry-after", str(wait).encode())],
        )  # fmt: skip

    # --- admin -----------------------------------------------------------------------------

    async def _login(self, scope: Scope, receive: Receive, send: Send, page: str) -> None:
        # The backoff is per address and page: someone else behind the admin's address (or a
        # guesser who claims it) cannot make the admin's own page wait.
        client = self._state(f"login|{self._client(scope)}|{page}")
        per_minute = self.limits.failed_logins_per_minute
        server_can_check = _take(self._wrong, per_minute, math.ceil(per_minute), spend=False)
        wait = client.next_login - time.monotonic()
        if wait <= 0 and not server_can_check:
            wait = 60.0 / per_minute
        if wait > 0:  # no password is even looked at while the client must wait
            await _reply(
                send, 429, {"error": f"too many attempts; wait {math.ceil(wait)} s"},
                [(b"retry-after", str(math.ceil(wait)).encode())],
            )  # fmt: skip
            return
        body = await _read_body(receive)
        try:
            given = str(json.loads(body or b"")["password"])
        except (ValueError, TypeError, KeyError):
            given = ""
        if (
            not page
            or self.password is None
            or not hmac.compare_digest(given.encode(), self.password.encode())
        ):
            client.failures += 1
            self._wrong.tokens -= 1.0
            delay = min(2.0 ** (client.failures - 1), self.limits.max_login_wait_s)
            client.next_login = time.monotonic() + delay
            logger.warning("admin: failed login from a client (%d in a row)", client.failures)
            await _reply(send, 401, {"error": "wrong password", "retry_after_s": delay})
            return
        client.failures, client.next_login = 0, 0.0
        token = self._sign(f"admin|{int(time.time()) + ADMIN_HOURS * 3600}|{page}")
        logger.info("admin: unlocked")
        await _reply(send, 200, {"success": True}, [_set(ADMIN_COOKIE, token, ADMIN_HOURS)])

    def admin_ok(self, cookies: dict[str, str]) -> bool:
        """The request carries an unexpired admin cookie issued to its own page cookie."""
        page = self._valid_page(cookies.get(PAGE_COOKIE, ""))
        body = self._verify(cookies.get(ADMIN_COOKIE, ""))
        if not page or body is None:
            return False
        kind, _, rest = body.partition("|")
        expiry, _, bound = rest.partition("|")
        return kind == "admin" and expiry.isdigit() and int(expiry) > time.time() and bound == page

    # --- signed cookies ----------------------------------------------------------------------

    def _mac(self, body: str) -> str:
        return hmac.new(self.secret, body.encode(), hashlib.sha256).hexdigest()[:32]

    def _sign(self, body: str) -> str:
        return f"{body}|{self._mac(body)}"

    def _verify(self, token: str) -> str | None:
        body, _, mac = token.rpartition("|")
        return body if body and hmac.compare_digest(mac, self._mac(body)) else None

    def _valid_page(self, token: str) -> str:
        body = self._verify(token)
        return body if body is not None and body.startswith("page-") else ""

    def _setting_page_cookie(self, send: Send) -> Send:
        token = self._sign(f"page-{secrets.token_hex(12)}")

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(
                    message, headers=[*message.get("headers", []), _set(PAGE_COOKIE, token)]
                )
            await send(message)

        return sending


def _take(state: _Client, per_minute: float, burst: int, spend: bool = True) -> bool:
    """Refill a token bucket for the time passed (up to `burst`), then take one token from it
    if `spend` and one is there; whether one was there."""
    now = time.monotonic()
    state.tokens = min(float(burst), state.tokens + (now - state.updated) * per_minute / 60.0)
    state.updated = now
    if state.tokens < 1.0:
        return False
    if spend:
        state.tokens -= 1.0
    return True


async def _unwrapped() -> None:
    raise RuntimeError("the gatekeeper is not in front of an app yet: wrap() one")


def _is_page(path: str) -> bool:
    """The HTML page (not its assets or Gradio's API)."""
    last = path.rsplit("/", 1)[-1]
    return "gradio_api" not in path and "." not in last and not path.startswith("/assets")


def _cookies(scope: Scope) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header is no cookie
                return {}
    return {k: m.value for k, m in jar.items()}


def _set(name: str, value: str, hours: float | None = None) -> tuple[bytes, bytes]:
    age = f"; Max-Age={int(hours * 3600)}" if hours else ""
    return (b"set-cookie", f"{name}={value}; Path=/; HttpOnly; SameSite=Strict{age}".encode())


def _expire(name: str) -> tuple[bytes, bytes]:
    return (b"set-cookie", f"{name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict".encode())


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None when it is larger than any legitimate one."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":  # gone, or cut off by _bounded
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _declared_length(scope: Scope) -> int:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


def _bounded(receive: Receive, limit: int) -> Receive:
    """`receive` that ends the request (a disconnect) once its body passes `limit` bytes, for
    bodies that do not declare their length."""
    size = 0

    async def bounded() -> Message:
        nonlocal size
        message = await receive()
        size += len(message.get("body", b""))
        return {"type": "http.disconnect"} if size > limit else message

    return bounded


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _reply(
    send: Send, status: int, payload: dict[str, Any], headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    body = json.dumps(payload, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})
