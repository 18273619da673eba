"""Contract tests: `agentiq sandbox` against WB's own generated client.

The client is `wildberries-sdk` (module `wildberries_sdk.communications`), generated from WB's
OpenAPI spec and written by nobody on this project, so these tests keep the sandbox (and with
it our `wb` client's tests, which run against the sandbox) honest about the wire format.

Every answer is checked three ways:
  * the SDK decodes it into its own model (the `*_with_http_info` calls, or the model an
    ApiException carries for an error status);
  * the raw JSON has no key outside the model's `__properties`, recursively through the nested
    models (Chat, Listing, LastMessage, EventsResult, Event, EventMessage, EventAttachments,
    File, Image, MessageResponse, MessageResponseResult and the error bodies);
  * the fields the contract (../../../shared/wb-api-contract.md, docs/sandbox.md) promises are
    present and consistent.

Environment: AGENTIQ_BIN = the agentiq binary (default target/debug/agentiq, relative to the
repo root). Two sandboxes are started: the main one (two sellers, no rate limit) and a small
rate-limited one for the 429 tests.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import queue
import random
import re
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable

import pytest
from wildberries_sdk.communications import ApiClient, Configuration, DefaultApi
from wildberries_sdk.communications.exceptions import ApiException
from wildberries_sdk.communications.models import (
    Chat,
    ChatsResponse,
    Event,
    EventAttachments,
    EventMessage,
    EventsResponse,
    EventsResult,
    File,
    GetV1NewFeedbacksQuestions401Response,
    GetV1SellerDownloadId202Response,
    GetV1SellerDownloadId451Response,
    GetV1SellerEvents400Response,
    Image,
    LastMessage,
    Listing,
    MessageResponse,
    MessageResponseResult,
    Response4XX,
)

REPO_ROOT = Path(__file__).resolve().parents[2]

# Tokens look like WB's (JWTs, "eyJ…"); the sandbox takes any string.
T1 = "eyJhbGciOiJIUzI1NiJ9.Y29udHJhY3Qtc2VsbGVyLW9uZQ.c2lnLW9uZQ"
T2 = "eyJhbGciOiJIUzI1NiJ9.Y29udHJhY3Qtc2VsbGVyLXR3bw.c2lnLXR3bw"
T_LIMITED = "eyJhbGciOiJIUzI1NiJ9.Y29udHJhY3QtbGltaXRlZA.c2lnLWxpbWl0ZWQ"
T_WRONG = "eyJhbGciOiJIUzI1NiJ9.bm90LWEtc2VsbGVy.c2lnLXdyb25n"

CHATS = 4
SEED = 7
PAGE_SIZE = 3
RATE_BURST, RATE_SECONDS = 3, 60

OP_CHATS = "GET /api/v1/seller/chats"
OP_EVENTS = "GET /api/v1/seller/events"
OP_SEND = "POST /api/v1/seller/message"
OP_DOWNLOAD = "GET /api/v1/seller/download/{id}"
OP_BUYER_MSG = "POST /_sandbox/chats/{chatID}/buyer-messages"
OP_STATS = "GET /_sandbox/stats"
OP_UNKNOWN = "GET (unknown route)"

SOURCES = {"seller-portal", "seller-public-api", "rusite", "global", "ios", "android"}
SENDERS = {"client", "seller", "wb"}

# A 2x2 JPEG and a 2x2 PNG (made with Pillow), and a minimal PDF built below.
JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERX"
    "RTc4UG1RV19iZ2hnPk1xeXBkeFxlZ2P/2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2Nj"
    "Y2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2P/wAARCAACAAIDASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAA"
    "ECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2Jy"
    "ggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5"
    "iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEB"
    "AQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFE"
    "KRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6"
    "goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09f"
    "b3+Pn6/9oADAMBAAIRAxEAPwDHooorhPqD/9k="
)
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGM8ISfHwMDAxMDAwMDAAAANBAEIfXHKZgAAAABJRU5ErkJggg=="
)


def _make_pdf() -> bytes:
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 72 72] >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


PDF = _make_pdf()


def magic_kind(data: bytes) -> str:
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"%PDF-"):
        return "pdf"
    return "unknown"


CONTENT_TYPE_OF = {"jpeg": "image/jpeg", "png": "image/png", "pdf": "application/pdf"}


def russian_nonce(k: int = 8) -> str:
    """Letters only: digits could look like a phone number to the moderation."""
    return "".join(random.choices("абвгдежзиклмнопрстуфхцчшэюя", k=k))


# --- models: allowed keys and nesting --------------------------------------------------------

def properties(model_cls: type) -> list[str]:
    return list(getattr(model_cls, f"_{model_cls.__name__}__properties"))


# For each model: which of its properties hold a nested model (or a list of one).
NESTED: dict[type, dict[str, Any]] = {
    ChatsResponse: {"result": [Chat]},
    Chat: {"goodCard": Listing, "lastMessage": LastMessage},
    EventsResponse: {"result": EventsResult},
    EventsResult: {"events": [Event]},
    Event: {"message": EventMessage},
    EventMessage: {"attachments": EventAttachments},
    EventAttachments: {"goodCard": Listing, "files": [File], "images": [Image]},
    MessageResponse: {"result": MessageResponseResult},
}


def unknown_keys(model_cls: type, raw: Any, path: str = "$") -> list[str]:
    """Every key in `raw` that `model_cls` (recursively) does not declare, as readable lines."""
    problems: list[str] = []
    if not isinstance(raw, dict):
        return [f"{path}: expected a JSON object for {model_cls.__name__}, got {type(raw).__name__}"]
    allowed = properties(model_cls)
    extra = sorted(set(raw) - set(allowed))
    if extra:
        problems.append(
            f"{path}: keys not in {model_cls.__name__}.__properties: {extra} (allowed: {allowed})"
        )
    for key, sub in NESTED.get(model_cls, {}).items():
        value = raw.get(key)
        if value is None:
            continue
        if isinstance(sub, list):
            if not isinstance(value, list):
                problems.append(f"{path}.{key}: expected a list of {sub[0].__name__}")
                continue
            for i, item in enumerate(value):
                problems += unknown_keys(sub[0], item, f"{path}.{key}[{i}]")
        else:
            problems += unknown_keys(sub, value, f"{path}.{key}")
    return problems


def require(raw: dict, keys: list[str], where: str) -> None:
    missing = [k for k in keys if k not in raw or raw[k] is None]
    assert not missing, f"{where}: required field(s) missing: {missing}; got keys {sorted(raw)}"


def parse_time(value: str, where: str) -> dt.datetime:
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, AttributeError) as e:
        raise AssertionError(f"{where}: {value!r} is not an ISO 8601 date-time ({e})") from None
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def as_utc(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def ms(t: dt.datetime) -> float:
    return as_utc(t).timestamp() * 1000


# --- the sandbox process ---------------------------------------------------------------------

LISTEN_RE = re.compile(r"sandbox listening on (http://[^\s/]+)")
SELLER_RE = re.compile(r"^seller (\d+): token (.{4})(?:…|\.\.\.), (\d+) chats, (\d+) events$")


def agentiq_bin() -> Path:
    raw = os.environ.get("AGENTIQ_BIN", "target/debug/agentiq")
    path = Path(raw)
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path


class Sandbox:
    def __init__(self, name: str, args: list[str], sellers: int) -> None:
        self.name = name
        self.args = args
        self.sellers = sellers
        self.url = ""
        self.seller_lines: list[str] = []
        self.stdout_lines: list[str] = []
        self._q: queue.Queue = queue.Queue()
        self._stderr = tempfile.TemporaryFile(mode="w+b")
        self.proc: subprocess.Popen | None = None

    def stderr_text(self) -> str:
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")[-8000:]

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\r\n")
            self.stdout_lines.append(line)
            self._q.put(line)
        self._q.put(None)

    def _fail(self, why: str) -> None:
        self.stop()
        pytest.fail(
            f"sandbox '{self.name}' ({' '.join(self.args)}): {why}\n"
            f"--- stdout ---\n" + "\n".join(self.stdout_lines[-50:]) +
            f"\n--- stderr ---\n{self.stderr_text()}",
            pytrace=False,
        )

    def start(self, timeout: float = 30.0) -> "Sandbox":
        binary = agentiq_bin()
        if not binary.exists():
            pytest.fail(
                f"agentiq binary not found at {binary} (set AGENTIQ_BIN or run "
                f"`cargo build --all-targets` first)",
                pytrace=False,
            )
        self.args = [str(binary), "sandbox", *self.args]
        env = dict(os.environ)
        env.setdefault("RUST_BACKTRACE", "1")
        self.proc = subprocess.Popen(
            self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr,
            text=True, encoding="utf-8", errors="replace", cwd=REPO_ROOT, env=env,
        )
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not self.url:
            left = deadline - time.monotonic()
            if left <= 0:
                self._fail(f"no 'sandbox listening on http://HOST:PORT' line within {timeout:.0f} s")
            try:
                line = self._q.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            if line is None:
                code = self.proc.wait(timeout=5)
                self._fail(f"exited with code {code} before printing the listening line")
            m = LISTEN_RE.search(line)
            if m:
                self.url = m.group(1)
        # One line per seller follows.
        deadline = time.monotonic() + 10
        while len(self.seller_lines) < self.sellers and time.monotonic() < deadline:
            try:
                line = self._q.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                break
            if line.startswith("seller "):
                self.seller_lines.append(line)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int | None:
        """Stops the process; returns its exit code if it had already died on its own."""
        if self.proc is None:
            return None
        died = self.proc.poll()
        if died is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        return died


def _sandbox_fixture(name: str, args: list[str], sellers: int):
    sb = Sandbox(name, args, sellers).start()
    yield sb
    died = sb.stop()
    if died is not None:
        pytest.fail(
            f"sandbox '{name}' died during the tests (exit code {died})\n--- stderr ---\n"
            f"{sb.stderr_text()}",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def sandbox():
    yield from _sandbox_fixture(
        "main",
        ["--listen", "127.0.0.1:0", "--token", T1, "--token", T2, "--chats", str(CHATS),
         "--seed", str(SEED), "--page-size", str(PAGE_SIZE), "--no-rate-limit"],
        sellers=2,
    )


@pytest.fixture(scope="session")
def limited_sandbox():
    yield from _sandbox_fixture(
        "rate-limited",
        ["--listen", "127.0.0.1:0", "--token", T_LIMITED, "--chats", "1", "--seed", str(SEED),
         "--rate-limit", f"{RATE_BURST}/{RATE_SECONDS}"],
        sellers=1,
    )


# --- HTTP helpers ----------------------------------------------------------------------------

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(method: str, url: str, token: str | None = None, body: Any = None,
         headers: dict[str, str] | None = None, timeout: float = 15.0):
    """A raw request (no SDK): returns (status, headers, body bytes)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if token is not None:
        req.add_header("Authorization", token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with _NO_PROXY.open(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def hget(headers, name: str, default=None):
    """A header, case-insensitively (ApiResponse turns urllib3's headers into a plain dict)."""
    if headers is None:
        return default
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    return default


def sdk(base: str, token: str | None, prefix: str | None = None) -> DefaultApi:
    cfg = Configuration(
        host=base,
        api_key={"HeaderApiKey": token} if token is not None else None,
        api_key_prefix={"HeaderApiKey": prefix} if prefix else None,
        # The operations name WB's host themselves; make them use ours.
        ignore_operation_servers=True,
        retries=False,
    )
    return DefaultApi(ApiClient(cfg))


class Contract:
    """Decoding helpers that record every decode in the ledger (see conftest.py)."""

    def __init__(self, ledger) -> None:
        self.ledger = ledger

    def _checked(self, op: str, status: int, model_cls: type, fn: Callable[[], Any]):
        try:
            out = fn()
        except AssertionError as e:
            self.ledger.record(op, status, model_cls.__name__, False, str(e).splitlines()[0])
            raise
        self.ledger.record(op, status, model_cls.__name__, True)
        return out

    def decode_json(self, op: str, status: int, model_cls: type, body: bytes | str,
                    sdk_data: Any = "unset"):
        """Checks a JSON body against `model_cls`; returns (model, raw dict)."""

        def check():
            text = body.decode("utf-8") if isinstance(body, bytes) else body
            try:
                raw = json.loads(text)
            except ValueError as e:
                raise AssertionError(f"{op} {status}: body is not JSON ({e}): {text[:300]!r}")
            problems = unknown_keys(model_cls, raw)
            assert not problems, f"{op} {status}: " + "; ".join(problems)
            if sdk_data != "unset":
                assert isinstance(sdk_data, model_cls), (
                    f"{op} {status}: the SDK did not decode the body into {model_cls.__name__} "
                    f"(got {type(sdk_data).__name__}: {sdk_data!r:.300}); body {text[:300]!r}"
                )
            try:
                model = model_cls.from_json(text)
            except Exception as e:  # pydantic.ValidationError and friends
                raise AssertionError(
                    f"{op} {status}: {model_cls.__name__}.from_json failed: {e}"
                ) from None
            assert model is not None, f"{op} {status}: {model_cls.__name__}.from_json gave None"
            return model, raw

        return self._checked(op, status, model_cls, check)

    def ok(self, op: str, model_cls: type, call: Callable[[], Any], status: int = 200):
        """An SDK `*_with_http_info` call expected to succeed with `status`;
        returns (model, raw dict, headers)."""
        try:
            resp = call()
        except ApiException as e:
            self.ledger.record(op, e.status or 0, model_cls.__name__, False,
                               f"expected {status}, got {e.status}")
            raise AssertionError(
                f"{op}: expected {status} {model_cls.__name__}, got {e.status}: {e.body!r:.500}"
            ) from None
        except Exception as e:
            self.ledger.record(op, 0, model_cls.__name__, False, f"{type(e).__name__}: {e}")
            raise AssertionError(f"{op}: the SDK call failed: {type(e).__name__}: {e}") from None
        if resp.status_code != status:
            self.ledger.record(op, resp.status_code, model_cls.__name__, False,
                               f"expected {status}")
            raise AssertionError(
                f"{op}: expected {status}, got {resp.status_code}: {resp.raw_data!r:.500}"
            )
        ctype = hget(resp.headers, "content-type", "")
        assert "json" in ctype, f"{op} {status}: Content-Type {ctype!r} is not JSON"
        model, raw = self.decode_json(op, status, model_cls, resp.raw_data, sdk_data=resp.data)
        return model, raw, resp.headers

    def error(self, op: str, status: int, model_cls: type, call: Callable[[], Any]):
        """An SDK call expected to fail with `status`, its body decoding as `model_cls`;
        returns (model, raw dict, headers)."""
        try:
            resp = call()
        except ApiException as e:
            if e.status != status:
                self.ledger.record(op, e.status or 0, model_cls.__name__, False,
                                   f"expected {status}, got {e.status}")
                raise AssertionError(
                    f"{op}: expected {status} {model_cls.__name__}, got {e.status}: "
                    f"{e.body!r:.500}"
                ) from None
            ctype = hget(e.headers, "content-type", "")
            assert "json" in ctype, f"{op} {status}: Content-Type {ctype!r} is not JSON"
            model, raw = self.decode_json(op, status, model_cls, e.body or "", sdk_data=e.data)
            return model, raw, e.headers
        got = getattr(resp, "status_code", "?")
        self.ledger.record(op, got if isinstance(got, int) else 0, model_cls.__name__, False,
                           f"expected {status}, got {got}")
        raise AssertionError(
            f"{op}: expected {status} {model_cls.__name__}, got {got}: "
            f"{getattr(resp, 'raw_data', b'')!r:.500}"
        )


@pytest.fixture(scope="session")
def contract(ledger) -> Contract:
    return Contract(ledger)


# --- reading the whole feed ------------------------------------------------------------------

def check_event(ev: dict, where: str) -> None:
    require(ev, ["chatID", "eventID", "eventType", "isNewChat", "message", "source",
                 "addTimestamp", "addTime", "sender"], where)
    assert ev["eventType"] == "message", f"{where}: eventType {ev['eventType']!r} != 'message'"
    assert ev["sender"] in SENDERS, f"{where}: sender {ev['sender']!r} not in {sorted(SENDERS)}"
    assert ev["source"] in SOURCES, f"{where}: source {ev['source']!r} not in {sorted(SOURCES)}"
    assert isinstance(ev["addTimestamp"], int), f"{where}: addTimestamp is not an integer"
    t = parse_time(ev["addTime"], f"{where}.addTime")
    assert abs(ms(t) - ev["addTimestamp"]) < 1000, (
        f"{where}: addTime {ev['addTime']!r} is not addTimestamp {ev['addTimestamp']} (UTC)"
    )
    if ev["isNewChat"]:
        assert ev.get("replySign"), f"{where}: isNewChat true without replySign"
    else:
        assert "replySign" not in ev, (
            f"{where}: replySign on an event with isNewChat false (contract: only when true)"
        )
    if ev["sender"] == "client":
        assert ev.get("clientName"), f"{where}: a buyer's event without clientName"
    msg = ev["message"]
    att = msg.get("attachments") or {}
    for i, f in enumerate(att.get("files") or []):
        w = f"{where}.message.attachments.files[{i}]"
        require(f, ["contentType", "date", "downloadID", "name", "url", "size"], w)
        assert isinstance(f["size"], int) and f["size"] > 0, f"{w}: size {f['size']!r}"
    for i, im in enumerate(att.get("images") or []):
        require(im, ["date", "downloadID", "url"], f"{where}.message.attachments.images[{i}]")
    assert msg.get("text") or att.get("files") or att.get("images"), (
        f"{where}: a message with neither text nor files nor images"
    )


def check_page(requested: int | None, raw: dict, model: EventsResponse, where: str) -> None:
    require(raw, ["result", "errors"], where)
    res = raw["result"]
    require(res, ["next", "totalEvents", "events"], f"{where}.result")
    events = res["events"]
    assert res["totalEvents"] == len(events), (
        f"{where}: totalEvents {res['totalEvents']} != len(events) {len(events)}"
    )
    assert len(events) <= PAGE_SIZE, f"{where}: {len(events)} events > --page-size {PAGE_SIZE}"
    if events:
        last = events[-1]["addTimestamp"]
        assert res["next"] == last, f"{where}: next {res['next']} != last addTimestamp {last}"
        require(res, ["newestEventTime", "oldestEventTime"], f"{where}.result")
        newest, oldest = model.result.newest_event_time, model.result.oldest_event_time
        assert isinstance(newest, dt.datetime) and isinstance(oldest, dt.datetime), (
            f"{where}: newestEventTime/oldestEventTime did not parse as date-times"
        )
        first = events[0]["addTimestamp"]
        assert abs(ms(oldest) - first) < 1000, (
            f"{where}: oldestEventTime {res['oldestEventTime']} is not the first event's time {first}"
        )
        assert abs(ms(newest) - last) < 1000, (
            f"{where}: newestEventTime {res['newestEventTime']} is not the last event's time {last}"
        )
        if requested is not None:
            early = [e["eventID"] for e in events if e["addTimestamp"] <= requested]
            assert not early, f"{where}: events at or before next={requested}: {early}"
    else:
        if requested is not None:
            assert res["next"] == requested, (
                f"{where}: empty page answers next {res['next']}, asked for {requested}"
            )
        for k in ("newestEventTime", "oldestEventTime"):
            assert k not in res, f"{where}: empty page carries {k}"
    for i, ev in enumerate(events):
        check_event(ev, f"{where}.result.events[{i}]")


def read_feed(c: Contract, api: DefaultApi, start: int | None = None, max_pages: int = 400):
    """Pages through /events until totalEvents == 0; returns (events, pages)."""
    events: list[dict] = []
    pages: list[tuple[int | None, dict]] = []
    nxt = start
    for _ in range(max_pages):
        if nxt is None:
            call = lambda: api.get_v1_seller_events_with_http_info(_request_timeout=15)
        else:
            call = lambda n=nxt: api.get_v1_seller_events_with_http_info(next=n, _request_timeout=15)
        model, raw, _ = c.ok(OP_EVENTS, EventsResponse, call)
        where = f"{OP_EVENTS}?next={nxt}" if nxt is not None else OP_EVENTS
        check_page(nxt, raw, model, where)
        pages.append((nxt, raw))
        res = raw["result"]
        if res["totalEvents"] == 0:
            return events, pages
        events += res["events"]
        assert nxt is None or res["next"] > nxt, f"{where}: next did not advance ({res['next']})"
        nxt = res["next"]
    raise AssertionError(f"{OP_EVENTS}: still events after {max_pages} pages")


def read_chats(c: Contract, api: DefaultApi) -> list[dict]:
    _, raw, _ = c.ok(OP_CHATS, ChatsResponse,
                     lambda: api.get_v1_seller_chats_with_http_info(_request_timeout=15))
    require(raw, ["result", "errors"], OP_CHATS)
    return raw["result"]


@pytest.fixture(scope="session")
def seeded(sandbox, contract):
    """The seeded state of both sellers, read before any test changes it."""
    out = {}
    for token in (T1, T2):
        api = sdk(sandbox.url, token)
        events, pages = read_feed(contract, api)
        out[token] = {"chats": read_chats(contract, api), "events": events, "pages": pages}
    return out


def buyer_attachments(events: list[dict], kind: str) -> list[dict]:
    out = []
    for ev in events:
        if ev["sender"] != "client":
            continue
        out += ((ev["message"].get("attachments") or {}).get(kind) or [])
    return out


# =============================================================================================
# start-up
# =============================================================================================

def test_startup_prints_listening_and_seller_lines(sandbox, seeded):
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", sandbox.url), sandbox.url
    assert not sandbox.url.endswith(":0"), "the listening line must carry the real port"
    assert len(sandbox.seller_lines) == 2, (
        f"expected one 'seller <n>: token …, <chats> chats, <events> events' line per seller, "
        f"got stdout {sandbox.stdout_lines}"
    )
    for n, (line, token) in enumerate(zip(sandbox.seller_lines, (T1, T2)), 1):
        m = SELLER_RE.match(line)
        assert m, f"seller line {line!r} does not match 'seller <n>: token <4 chars>…, N chats, N events'"
        assert int(m.group(1)) == n and m.group(2) == token[:4], line
        assert int(m.group(3)) == CHATS, f"{line!r}: expected {CHATS} chats"
        assert int(m.group(4)) == len(seeded[token]["events"]), (
            f"{line!r}: /events delivers {len(seeded[token]['events'])} events"
        )


# =============================================================================================
# GET /api/v1/seller/chats
# =============================================================================================

def test_chats_decode_with_required_fields(sandbox, contract, seeded):
    chats = read_chats(contract, sdk(sandbox.url, T1))
    assert len(chats) == CHATS, f"{OP_CHATS}: expected {CHATS} chats (--chats), got {len(chats)}"
    ids = [c["chatID"] for c in chats if "chatID" in c]
    assert len(set(ids)) == len(ids), f"{OP_CHATS}: duplicate chatIDs {ids}"
    for i, chat in enumerate(chats):
        w = f"{OP_CHATS} result[{i}]"
        require(chat, ["chatID", "replySign", "clientName", "goodCard"], w)
        assert all(isinstance(chat[k], str) and chat[k] for k in ("chatID", "replySign", "clientName")), w
        assert chat["replySign"] != chat["chatID"], f"{w}: replySign equals chatID"
        assert re.fullmatch(re.escape(chat["chatID"]) + r":\d+:[0-9a-f]+", chat["replySign"]), (
            f"{w}: replySign {chat['replySign']!r} is not '<chatID>:<number>:<hex>'"
        )
        gc = chat["goodCard"]
        require(gc, ["nmID", "price", "rid", "size"], f"{w}.goodCard")
        assert type(gc["nmID"]) is int and gc["nmID"] > 0, f"{w}.goodCard.nmID {gc['nmID']!r}"
        assert type(gc["price"]) is int and gc["price"] >= 0, f"{w}.goodCard.price {gc['price']!r}"
        assert isinstance(gc["rid"], str) and gc["rid"], f"{w}.goodCard.rid {gc['rid']!r}"
        assert isinstance(gc["size"], str), f"{w}.goodCard.size {gc['size']!r}"
        if "priceCurrency" in gc:
            assert gc["priceCurrency"] == "RUB", f"{w}.goodCard.priceCurrency {gc['priceCurrency']!r}"
        if chat.get("lastMessage") is not None:
            require(chat["lastMessage"], ["addTimestamp"], f"{w}.lastMessage")
            assert type(chat["lastMessage"]["addTimestamp"]) is int


def test_chats_agree_with_events(sandbox, contract, seeded):
    api = sdk(sandbox.url, T1)
    chats = read_chats(contract, api)
    events, _ = read_feed(contract, api)
    by_chat: dict[str, list[dict]] = {}
    for ev in events:
        by_chat.setdefault(ev["chatID"], []).append(ev)
    assert {c["chatID"] for c in chats} == set(by_chat), (
        f"chats in /chats {sorted(c['chatID'] for c in chats)} != chats in /events {sorted(by_chat)}"
    )
    for chat in chats:
        evs = by_chat[chat["chatID"]]
        first = evs[0]
        assert first.get("replySign") == chat["replySign"], (
            f"chat {chat['chatID']}: /chats replySign {chat['replySign']!r} != first event's "
            f"{first.get('replySign')!r}"
        )
        client_names = {e.get("clientName") for e in evs if e["sender"] == "client"}
        assert client_names <= {chat["clientName"]}, (
            f"chat {chat['chatID']}: clientName {chat['clientName']!r} vs events {client_names}"
        )
        lm = chat.get("lastMessage")
        if lm is not None:
            last = evs[-1]
            assert lm["addTimestamp"] == last["addTimestamp"], (
                f"chat {chat['chatID']}: lastMessage.addTimestamp {lm['addTimestamp']} != last "
                f"event's {last['addTimestamp']}"
            )
            assert lm.get("text", "") == last["message"].get("text", ""), (
                f"chat {chat['chatID']}: lastMessage.text {lm.get('text')!r} != last event's "
                f"{last['message'].get('text')!r}"
            )
        if "goodCard" in (first["message"].get("attachments") or {}):
            assert first["message"]["attachments"]["goodCard"] == chat["goodCard"], (
                f"chat {chat['chatID']}: goodCard in /chats differs from the first event's"
            )


# =============================================================================================
# GET /api/v1/seller/events
# =============================================================================================

def test_events_paging(seeded):
    for token in (T1, T2):
        pages = seeded[token]["pages"]
        assert len(pages) >= 3, f"expected several pages of {PAGE_SIZE}, got {len(pages)}"
        assert pages[0][0] is None and pages[-1][1]["result"]["totalEvents"] == 0
        full = [p for _, p in pages if p["result"]["totalEvents"]]
        assert all(p["result"]["totalEvents"] == PAGE_SIZE for p in full[:-1]), (
            f"pages before the last should be full ({PAGE_SIZE}): "
            f"{[p['result']['totalEvents'] for p in full]}"
        )


def test_events_invariants(seeded):
    for token in (T1, T2):
        events = seeded[token]["events"]
        assert events, "no seeded events"
        ids = [e["eventID"] for e in events]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        assert not dupes, f"{OP_EVENTS}: eventIDs repeat: {dupes}"
        ts = [e["addTimestamp"] for e in events]
        bad = [(a, b) for a, b in zip(ts, ts[1:]) if b <= a]
        assert not bad, f"{OP_EVENTS}: addTimestamp not strictly increasing: {bad[:5]}"
        seen: set[str] = set()
        for e in events:
            first = e["chatID"] not in seen
            seen.add(e["chatID"])
            assert e["isNewChat"] is first, (
                f"{OP_EVENTS}: event {e['eventID']} of chat {e['chatID']}: isNewChat "
                f"{e['isNewChat']} but it is {'the first' if first else 'not the first'} event"
            )
            if first:
                assert e.get("replySign"), f"first event {e['eventID']} without replySign"
        assert len(seen) == CHATS, f"{OP_EVENTS}: events cover {len(seen)} chats, expected {CHATS}"
        senders = {e["sender"] for e in events}
        assert "client" in senders, f"no buyer events among {senders}"


def test_events_carry_an_image_and_a_pdf(seeded):
    for token in (T1, T2):
        events = seeded[token]["events"]
        images = buyer_attachments(events, "images")
        pdfs = [f for f in buyer_attachments(events, "files") if f["contentType"] == "application/pdf"]
        assert images, f"{OP_EVENTS}: no image among the buyers' events (--chats {CHATS} ≥ 2)"
        assert pdfs, f"{OP_EVENTS}: no PDF file among the buyers' events (--chats {CHATS} ≥ 2)"
        for f in pdfs:
            assert f["name"].lower().endswith(".pdf"), f"PDF file named {f['name']!r}"


def test_events_unknown_next_far_future_is_empty(sandbox, contract, seeded):
    api = sdk(sandbox.url, T1)
    future = int(time.time() * 1000) + 10 * 365 * 24 * 3600 * 1000
    model, raw, _ = contract.ok(
        OP_EVENTS, EventsResponse,
        lambda: api.get_v1_seller_events_with_http_info(next=future, _request_timeout=15))
    check_page(future, raw, model, f"{OP_EVENTS}?next={future}")
    assert raw["result"]["totalEvents"] == 0 and raw["result"]["next"] == future


# =============================================================================================
# POST /api/v1/seller/message
# =============================================================================================

def _find_sent(contract, api, chat_id: str, text: str | None, after: int) -> dict:
    events, _ = read_feed(contract, api, start=after)
    hits = [e for e in events if e["chatID"] == chat_id and e["sender"] == "seller"
            and (text is None or e["message"].get("text") == text)]
    assert len(hits) == 1, (
        f"{OP_EVENTS}: expected the sent message exactly once in chat {chat_id} after {after}, "
        f"found {len(hits)} (seller events there: "
        f"{[e['message'] for e in events if e['chatID'] == chat_id]})"
    )
    return hits[0]


def _feed_end(seeded_or_events) -> int:
    return max(e["addTimestamp"] for e in seeded_or_events)


def test_send_text_then_seen_in_events(sandbox, contract, seeded):
    api = sdk(sandbox.url, T1)
    chat = read_chats(contract, api)[0]
    before, _ = read_feed(contract, api)
    text = f"Здравствуйте! Ваш заказ уже собран и передан в доставку, {russian_nonce()}."
    _, raw, _ = contract.ok(OP_SEND, MessageResponse, lambda: api.post_v1_seller_message_with_http_info(
        reply_sign=chat["replySign"], message=text, _request_timeout=15))
    require(raw, ["result"], OP_SEND)
    require(raw["result"], ["addTime", "chatID", "sign"], f"{OP_SEND} result")
    assert raw["result"]["chatID"] == chat["chatID"], (
        f"{OP_SEND}: result.chatID {raw['result']['chatID']!r} != {chat['chatID']!r}"
    )
    assert type(raw["result"]["addTime"]) is int and raw["result"]["addTime"] > 0
    assert raw.get("errors") in (None, []), f"{OP_SEND}: errors {raw.get('errors')!r}"
    ev = _find_sent(contract, api, chat["chatID"], text, _feed_end(before))
    assert ev["sender"] == "seller" and ev["source"] == "seller-public-api", (
        f"sent message shows as sender {ev['sender']!r}, source {ev['source']!r}"
    )
    assert ev["isNewChat"] is False and "replySign" not in ev


def test_send_png_jpeg_pdf_files_and_download_them_back(sandbox, contract, seeded):
    api = sdk(sandbox.url, T1)
    chat = read_chats(contract, api)[1]
    before, _ = read_feed(contract, api)
    text = f"Фото упаковки и накладная, {russian_nonce()}"
    sent = {"photo.png": PNG, "photo.jpg": JPEG, "invoice.pdf": PDF}
    contract.ok(OP_SEND, MessageResponse, lambda: api.post_v1_seller_message_with_http_info(
        reply_sign=chat["replySign"], message=text, file=list(sent.items()), _request_timeout=15))
    ev = _find_sent(contract, api, chat["chatID"], text, _feed_end(before))
    att = ev["message"].get("attachments") or {}
    files, images = att.get("files") or [], att.get("images") or []
    assert len(files) + len(images) == 3, (
        f"sent 3 files, the event carries files {files} and images {images}"
    )
    pdfs = [f for f in files if f["contentType"] == "application/pdf"]
    assert len(pdfs) == 1 and pdfs[0]["name"] == "invoice.pdf" and pdfs[0]["size"] == len(PDF), (
        f"the PDF should be in attachments.files as invoice.pdf, {len(PDF)} bytes: {files}"
    )
    got = []
    for item in files + images:
        data, ctype = _download_eventually(contract, api, item["downloadID"])
        got.append(data)
        if "contentType" in item:
            assert ctype.split(";")[0] == item["contentType"], (item, ctype)
    assert sorted(got) == sorted(sent.values()), "downloaded bytes differ from the sent files"


def test_send_file_without_text(sandbox, contract, seeded):
    api = sdk(sandbox.url, T1)
    chat = read_chats(contract, api)[2]
    before, _ = read_feed(contract, api)
    contract.ok(OP_SEND, MessageResponse, lambda: api.post_v1_seller_message_with_http_info(
        reply_sign=chat["replySign"], file=[("label.png", PNG)], _request_timeout=15))
    ev = _find_sent(contract, api, chat["chatID"], None, _feed_end(before))
    att = ev["message"].get("attachments") or {}
    assert len((att.get("files") or []) + (att.get("images") or [])) == 1, att


@pytest.mark.parametrize("text", [
    "Подробнее о товаре: https://example.com/shop/item",
    "Позвоните мне: +7 912 345-67-89",
    "Напишите на почту seller.help@example.com",
    "Удобнее ответить в телеграме, напишите туда",
], ids=["link", "phone", "email", "messenger"])
def test_send_moderation_rejects(sandbox, contract, seeded, text):
    api = sdk(sandbox.url, T1)
    chat = read_chats(contract, api)[0]
    _, raw, _ = contract.error(OP_SEND, 400, GetV1SellerEvents400Response,
                               lambda: api.post_v1_seller_message_with_http_info(
                                   reply_sign=chat["replySign"], message=text, _request_timeout=15))
    assert raw.get("detail"), f"{OP_SEND} 400 for {text!r}: no detail: {raw}"
    assert raw.get("status") == 400, f"{OP_SEND} 400: body status {raw.get('status')!r}"
    events, _ = read_feed(contract, api)
    assert not [e for e in events if e["message"].get("text") == text], (
        f"a rejected message ({text!r}) shows up in /events"
    )


def test_send_unknown_reply_sign(sandbox, contract, seeded):
    api = sdk(sandbox.url, T1)
    sign = "1:00000000-0000-4000-8000-000000000000:12345678:" + "ab" * 32
    _, raw, _ = contract.error(OP_SEND, 400, GetV1SellerEvents400Response,
                               lambda: api.post_v1_seller_message_with_http_info(
                                   reply_sign=sign, message="Здравствуйте!", _request_timeout=15))
    assert raw.get("detail"), f"{OP_SEND} 400 (unknown replySign): no detail: {raw}"


def test_send_empty_message_without_files(sandbox, contract, seeded):
    api = sdk(sandbox.url, T1)
    chat = read_chats(contract, api)[0]
    _, raw, _ = contract.error(OP_SEND, 400, GetV1SellerEvents400Response,
                               lambda: api.post_v1_seller_message_with_http_info(
                                   reply_sign=chat["replySign"], _request_timeout=15))
    assert raw.get("detail"), raw


def test_send_file_that_is_not_jpeg_png_pdf(sandbox, contract, seeded):
    api = sdk(sandbox.url, T1)
    chat = read_chats(contract, api)[0]
    _, raw, _ = contract.error(OP_SEND, 400, GetV1SellerEvents400Response,
                               lambda: api.post_v1_seller_message_with_http_info(
                                   reply_sign=chat["replySign"], message="Документ во вложении",
                                   file=[("fake.png", b"this is plain text, not a PNG at all")],
                                   _request_timeout=15))
    assert raw.get("detail"), raw


# =============================================================================================
# GET /api/v1/seller/download/{id}
# =============================================================================================

def _download_ok(contract: Contract, api: DefaultApi, download_id: str) -> tuple[bytes, str]:
    try:
        resp = api.get_v1_seller_download_id_with_http_info(id=download_id, _request_timeout=15)
    except ApiException as e:
        contract.ledger.record(OP_DOWNLOAD, e.status or 0, "bytes", False, f"got {e.status}")
        raise AssertionError(f"{OP_DOWNLOAD} {download_id}: expected 200, got {e.status}: {e.body!r:.300}")
    ok = resp.status_code == 200 and isinstance(resp.data, (bytes, bytearray)) and len(resp.data) > 0
    contract.ledger.record(OP_DOWNLOAD, resp.status_code, "bytes", ok,
                           "" if ok else f"status {resp.status_code}, data {type(resp.data).__name__}")
    assert ok, f"{OP_DOWNLOAD} {download_id}: status {resp.status_code}, data {resp.data!r:.200}"
    return bytes(resp.data), hget(resp.headers, "content-type", "")


def _download_eventually(contract: Contract, api: DefaultApi, download_id: str,
                         max_wait: float = 20.0) -> tuple[bytes, str]:
    """Downloads, waiting out 202 "pending" answers as WB asks (retrySeconds, capped)."""
    deadline = time.monotonic() + max_wait
    while True:
        try:
            resp = api.get_v1_seller_download_id_with_http_info(id=download_id, _request_timeout=15)
        except ApiException:
            return _download_ok(contract, api, download_id)  # records and explains the error
        if resp.status_code != 202:
            break
        _, raw = contract.decode_json(OP_DOWNLOAD, 202, GetV1SellerDownloadId202Response,
                                      resp.raw_data, sdk_data=resp.data)
        require(raw, ["moderationState", "retrySeconds"], f"{OP_DOWNLOAD} 202")
        assert raw["retrySeconds"] > 0, raw
        assert time.monotonic() + min(raw["retrySeconds"], 5) < deadline, (
            f"{OP_DOWNLOAD} {download_id}: still pending after {max_wait:.0f} s"
        )
        time.sleep(min(raw["retrySeconds"], 5))
    return _download_ok(contract, api, download_id)


def test_download_buyer_image(sandbox, contract, seeded):
    api = sdk(sandbox.url, T1)
    image = buyer_attachments(seeded[T1]["events"], "images")[0]
    data, ctype = _download_ok(contract, api, image["downloadID"])
    kind = magic_kind(data)
    assert kind in ("jpeg", "png"), f"{OP_DOWNLOAD}: image bytes start {data[:8]!r}"
    assert ctype.split(";")[0].strip() == CONTENT_TYPE_OF[kind], (
        f"{OP_DOWNLOAD}: Content-Type {ctype!r} for {kind} bytes"
    )


def test_download_every_seeded_attachment(sandbox, contract, seeded):
    api = sdk(sandbox.url, T1)
    events = seeded[T1]["events"]
    # Some seeded files start "in moderation" (202 with retrySeconds) and then download.
    for image in buyer_attachments(events, "images"):
        data, _ = _download_eventually(contract, api, image["downloadID"])
        assert magic_kind(data) in ("jpeg", "png"), (image, data[:8])
    for f in buyer_attachments(events, "files"):
        data, ctype = _download_eventually(contract, api, f["downloadID"])
        kind = magic_kind(data)
        assert CONTENT_TYPE_OF.get(kind) == f["contentType"], (
            f"{OP_DOWNLOAD} {f['downloadID']}: file {f['name']!r} says {f['contentType']}, "
            f"bytes are {kind}"
        )
        assert len(data) == f["size"], f"{f['name']!r}: size {f['size']} but {len(data)} bytes"
        assert ctype.split(";")[0].strip() == f["contentType"], (f, ctype)


def _buyer_message(contract: Contract, sandbox, chat_id: str, body: dict) -> dict:
    path = f"/_sandbox/chats/{urllib.parse.quote(chat_id, safe=':')}/buyer-messages"
    status, headers, data = http("POST", sandbox.url + path, T1, body)
    if status not in (200, 201):
        contract.ledger.record(OP_BUYER_MSG, status, "Event", False, f"status {status}")
        raise AssertionError(f"POST {path}: status {status}: {data!r:.300}")
    _, raw = contract.decode_json(OP_BUYER_MSG, status, Event, data)
    check_event(raw, f"POST {path}")
    assert raw["chatID"] == chat_id and raw["sender"] == "client", raw
    assert raw["message"].get("text") == body["text"], raw
    return raw


def _new_file_attachment(contract, sandbox, seeded, moderation: str) -> tuple[dict, dict]:
    chat = seeded[T1]["chats"][3]
    text = f"Посмотрите документ, {russian_nonce()}"
    ev = _buyer_message(contract, sandbox, chat["chatID"], {
        "text": text, "attachments": [{"kind": "file", "moderation": moderation}]})
    files = (ev["message"].get("attachments") or {}).get("files") or []
    assert len(files) == 1, f"{OP_BUYER_MSG}: one file asked for, event carries {files}"
    return ev, files[0]


def test_download_pending_is_202(sandbox, contract, seeded):
    api = sdk(sandbox.url, T1)
    ev, f = _new_file_attachment(contract, sandbox, seeded, "pending")
    model, raw, _ = contract.ok(OP_DOWNLOAD, GetV1SellerDownloadId202Response,
                                lambda: api.get_v1_seller_download_id_with_http_info(
                                    id=f["downloadID"], _request_timeout=15), status=202)
    require(raw, ["moderationState", "retrySeconds"], f"{OP_DOWNLOAD} 202")
    assert raw["moderationState"] == "pending", raw
    assert type(raw["retrySeconds"]) is int and raw["retrySeconds"] > 0, raw
    # The buyer's message is in the feed like any other.
    events, _ = read_feed(contract, api)
    assert ev["eventID"] in {e["eventID"] for e in events}, "the buyer message is not in /events"


def test_download_blocked_is_451(sandbox, contract, seeded):
    api = sdk(sandbox.url, T1)
    _, f = _new_file_attachment(contract, sandbox, seeded, "blocked")
    _, raw, _ = contract.error(OP_DOWNLOAD, 451, GetV1SellerDownloadId451Response,
                               lambda: api.get_v1_seller_download_id_with_http_info(
                                   id=f["downloadID"], _request_timeout=15))
    assert raw.get("status") == 451, f"{OP_DOWNLOAD} 451: body status {raw.get('status')!r}"
    assert raw.get("detail"), raw


def test_download_new_image_moderation_ok(sandbox, contract, seeded):
    api = sdk(sandbox.url, T1)
    chat = seeded[T1]["chats"][3]
    ev = _buyer_message(contract, sandbox, chat["chatID"], {
        "text": f"Вот фото, {russian_nonce()}", "attachments": [{"kind": "image", "moderation": "ok"}]})
    images = (ev["message"].get("attachments") or {}).get("images") or []
    assert len(images) == 1, images
    data, _ = _download_ok(contract, api, images[0]["downloadID"])
    assert magic_kind(data) in ("jpeg", "png"), data[:8]


def test_download_unknown_id_is_400(sandbox, contract, seeded):
    api = sdk(sandbox.url, T1)
    _, raw, _ = contract.error(OP_DOWNLOAD, 400, GetV1SellerEvents400Response,
                               lambda: api.get_v1_seller_download_id_with_http_info(
                                   id="no-such-download-id", _request_timeout=15))
    assert raw.get("detail") or raw.get("title"), raw


# =============================================================================================
# Auth
# =============================================================================================

def _operations(seeded) -> dict[str, Callable[[DefaultApi], Any]]:
    chat = seeded[T1]["chats"][0]
    image = buyer_attachments(seeded[T1]["events"], "images")[0]
    return {
        OP_CHATS: lambda api: api.get_v1_seller_chats_with_http_info(_request_timeout=15),
        OP_EVENTS: lambda api: api.get_v1_seller_events_with_http_info(_request_timeout=15),
        OP_SEND: lambda api: api.post_v1_seller_message_with_http_info(
            reply_sign=chat["replySign"], message="Здравствуйте!", _request_timeout=15),
        OP_DOWNLOAD: lambda api: api.get_v1_seller_download_id_with_http_info(
            id=image["downloadID"], _request_timeout=15),
    }


def _check_401(raw: dict, op: str) -> None:
    assert raw.get("status") == 401, f"{op} 401: body status {raw.get('status')!r}"
    assert raw.get("title") or raw.get("detail"), f"{op} 401: neither title nor detail: {raw}"


@pytest.mark.parametrize("op", [OP_CHATS, OP_EVENTS, OP_SEND, OP_DOWNLOAD],
                         ids=["chats", "events", "message", "download"])
def test_wrong_token_is_401(sandbox, contract, seeded, op):
    call = _operations(seeded)[op]
    _, raw, _ = contract.error(op, 401, GetV1NewFeedbacksQuestions401Response,
                               lambda: call(sdk(sandbox.url, T_WRONG)))
    _check_401(raw, op)


@pytest.mark.parametrize("op", [OP_CHATS, OP_EVENTS, OP_SEND, OP_DOWNLOAD],
                         ids=["chats", "events", "message", "download"])
def test_missing_token_is_401(sandbox, contract, seeded, op):
    call = _operations(seeded)[op]
    _, raw, _ = contract.error(op, 401, GetV1NewFeedbacksQuestions401Response,
                               lambda: call(sdk(sandbox.url, None)))
    _check_401(raw, op)


def test_wrong_token_sends_nothing(sandbox, contract, seeded):
    api = sdk(sandbox.url, T1)
    chat = seeded[T1]["chats"][0]
    text = f"Это не должно уйти, {russian_nonce()}"
    contract.error(OP_SEND, 401, GetV1NewFeedbacksQuestions401Response,
                   lambda: sdk(sandbox.url, T_WRONG).post_v1_seller_message_with_http_info(
                       reply_sign=chat["replySign"], message=text, _request_timeout=15))
    events, _ = read_feed(contract, api)
    assert not [e for e in events if e["message"].get("text") == text]


def test_bare_and_bearer_tokens_are_accepted(sandbox, contract, seeded):
    bare = read_chats(contract, sdk(sandbox.url, T1))
    via_prefix = read_chats(contract, sdk(sandbox.url, T1, prefix="Bearer"))
    status, headers, body = http("GET", sandbox.url + "/api/v1/seller/chats", f"Bearer {T1}")
    assert status == 200, f"{OP_CHATS} with 'Authorization: Bearer …': {status} {body!r:.300}"
    _, raw = contract.decode_json(OP_CHATS, 200, ChatsResponse, body)
    ids = lambda chats: sorted(c["chatID"] for c in chats)
    assert ids(bare) == ids(via_prefix) == ids(raw["result"]), "Bearer and bare tokens see different chats"


# =============================================================================================
# Sellers are separate
# =============================================================================================

def test_sellers_are_separate(sandbox, contract, seeded):
    api1, api2 = sdk(sandbox.url, T1), sdk(sandbox.url, T2)
    chats1, chats2 = read_chats(contract, api1), read_chats(contract, api2)
    ids1, ids2 = {c["chatID"] for c in chats1}, {c["chatID"] for c in chats2}
    assert len(ids2) == CHATS, f"seller 2 sees {len(ids2)} chats, expected {CHATS}"
    assert not ids1 & ids2, f"seller 2 sees seller 1's chats: {sorted(ids1 & ids2)}"
    events2, _ = read_feed(contract, api2)
    leaked = {e["chatID"] for e in events2} & ids1
    assert not leaked, f"seller 2's /events carry seller 1's chats {sorted(leaked)}"
    ev_ids1 = {e["eventID"] for e in seeded[T1]["events"]}
    assert not ev_ids1 & {e["eventID"] for e in events2}, "seller 2 sees seller 1's events"
    # Seller 2 cannot write into seller 1's chat, nor read seller 1's files.
    contract.error(OP_SEND, 400, GetV1SellerEvents400Response,
                   lambda: api2.post_v1_seller_message_with_http_info(
                       reply_sign=chats1[0]["replySign"], message="Здравствуйте!",
                       _request_timeout=15))
    image1 = buyer_attachments(seeded[T1]["events"], "images")[0]
    contract.error(OP_DOWNLOAD, 400, GetV1SellerEvents400Response,
                   lambda: api2.get_v1_seller_download_id_with_http_info(
                       id=image1["downloadID"], _request_timeout=15))


# =============================================================================================
# Rate limit (the second sandbox, --rate-limit 3/60)
# =============================================================================================

def _reraise(e: BaseException):
    raise e


def _burst(api: DefaultApi, n: int = 10) -> list[tuple[int, Any]]:
    out = []
    for _ in range(n):
        try:
            r = api.get_v1_seller_chats_with_http_info(_request_timeout=15)
            out.append((r.status_code, r))
        except ApiException as e:
            out.append((e.status, e))
    return out


def _check_429_headers(headers, where: str) -> None:
    retry = hget(headers, "X-Ratelimit-Retry")
    assert retry is not None, f"{where}: 429 without X-Ratelimit-Retry; headers {dict(headers)}"
    try:
        retry_n = float(retry)
    except ValueError:
        raise AssertionError(f"{where}: X-Ratelimit-Retry {retry!r} is not a number") from None
    assert retry_n > 0, f"{where}: X-Ratelimit-Retry {retry!r} is not positive"
    limit = hget(headers, "X-Ratelimit-Limit")
    assert limit is not None and int(limit) == RATE_BURST, (
        f"{where}: X-Ratelimit-Limit {limit!r}, expected the burst {RATE_BURST}"
    )
    reset = hget(headers, "X-Ratelimit-Reset")
    assert reset is not None and float(reset) > 0, f"{where}: X-Ratelimit-Reset {reset!r}"
    assert hget(headers, "Retry-After") is not None, f"{where}: 429 without Retry-After"
    assert hget(headers, "X-Ratelimit-Remaining") is None, (
        f"{where}: a 429 carries X-Ratelimit-Remaining (WB: every response except 429)"
    )


def test_rate_limit_burst_is_429(limited_sandbox, contract):
    api = sdk(limited_sandbox.url, T_LIMITED)
    results = _burst(api)
    statuses = [s for s, _ in results]
    assert statuses[0] == 200, f"first request of the burst: {statuses}"
    assert 429 in statuses, f"no 429 in a burst of 10 against --rate-limit 3/60: {statuses}"
    assert statuses.count(200) <= RATE_BURST, f"more than {RATE_BURST} passed: {statuses}"
    remaining = []
    for status, r in results:
        if status == 200:
            rem = hget(r.headers, "X-Ratelimit-Remaining")
            assert rem is not None, f"{OP_CHATS} 200 without X-Ratelimit-Remaining"
            remaining.append(int(rem))
    assert remaining == sorted(remaining, reverse=True) and remaining[-1] >= 0, (
        f"X-Ratelimit-Remaining over the burst: {remaining}"
    )
    for status, e in results:
        if status == 429:
            _, raw, headers = contract.error(OP_CHATS, 429, GetV1NewFeedbacksQuestions401Response,
                                             lambda e=e: _reraise(e))
            assert raw.get("status") == 429, f"{OP_CHATS} 429: body status {raw.get('status')!r}"
            _check_429_headers(headers, f"{OP_CHATS} 429")


def test_rate_limit_applies_to_every_operation(limited_sandbox, contract):
    api = sdk(limited_sandbox.url, T_LIMITED)
    results = _burst(api, 10)
    assert 429 in [s for s, _ in results], "could not empty the bucket"
    ok = [r for s, r in results if s == 200]
    sign = ok[0].data.result[0].reply_sign if ok and ok[0].data.result else "1:x:1:ab"
    calls = {
        OP_EVENTS: lambda: api.get_v1_seller_events_with_http_info(_request_timeout=15),
        OP_SEND: lambda: api.post_v1_seller_message_with_http_info(
            reply_sign=sign, message="Здравствуйте!", _request_timeout=15),
        OP_DOWNLOAD: lambda: api.get_v1_seller_download_id_with_http_info(
            id="any-id", _request_timeout=15),
    }
    for op, call in calls.items():
        _, raw, headers = contract.error(op, 429, GetV1NewFeedbacksQuestions401Response, call)
        _check_429_headers(headers, f"{op} 429")


# =============================================================================================
# Unknown routes, wrong methods, control routes
# =============================================================================================

def test_unknown_route_404_and_wrong_method_405(sandbox, contract):
    status, _, body = http("GET", sandbox.url + "/api/v1/seller/no-such-route", T1)
    assert status == 404, f"unknown route: {status} {body!r:.200}"
    _, raw = contract.decode_json(OP_UNKNOWN, 404, Response4XX, body)
    assert raw.get("status") == 404, raw
    status, _, body = http("DELETE", sandbox.url + "/api/v1/seller/chats", T1)
    assert status == 405, f"DELETE /api/v1/seller/chats: {status} {body!r:.200}"
    _, raw = contract.decode_json(OP_UNKNOWN, 405, Response4XX, body)
    assert raw.get("status") == 405, raw


def test_stats_count_wb_requests(sandbox, contract, seeded):
    read_chats(contract, sdk(sandbox.url, T1))
    contract.error(OP_CHATS, 401, GetV1NewFeedbacksQuestions401Response,
                   lambda: sdk(sandbox.url, T_WRONG).get_v1_seller_chats_with_http_info(
                       _request_timeout=15))
    status, _, body = http("GET", sandbox.url + "/_sandbox/stats", T1)
    ok = status == 200
    contract.ledger.record(OP_STATS, status, "stats JSON", ok, "" if ok else f"status {status}")
    assert ok, f"GET /_sandbox/stats: {status} {body!r:.300}"
    stats = json.loads(body)
    assert isinstance(stats.get("total"), int) and stats["total"] > 0, stats
    chats = stats.get("byRoute", {}).get(OP_CHATS, {})
    assert chats.get("200", 0) >= 1 and chats.get("401", 0) >= 1, (
        f"/_sandbox/stats byRoute[{OP_CHATS!r}] = {chats}"
    )
    assert "GET /_sandbox/stats" not in stats.get("byRoute", {}), "control routes are counted"
