"""Real delivery over loopback: SMTP (aiosmtpd), a json:// webhook and Slack's format
(aiohttp servers), retries against a dead SMTP server, a receiver that hangs, the log
file channel, and undelivered notifications across a restart.

Every wait is bounded; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import email
import email.header
import itertools
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from sysmond.alerts import AlertEngine
from sysmond.alerts.channels import Sender
from sysmond.config import AlertsConfig, ChannelConfig
from tests.alerts.helpers import cpu_rule, free_port

CPU = "cpu.usage_percent"
HOT = {CPU: 95.0}
CALM = {CPU: 10.0}


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch):
    """requests (under Apprise) honours proxy variables; loopback must stay direct."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def engine_for(tmp_path: Path, urls: tuple[str, ...], **kw) -> AlertEngine:
    retry = {k: kw.pop(k) for k in ("backoff_initial", "backoff_max") if k in kw}
    kw.setdefault("delivery_timeout", 5.0)
    kw.setdefault("retry_for", 10)
    cfg = AlertsConfig(
        rules=(cpu_rule(for_seconds=0, channels=("ops",), description="Check top."),),
        channels=(ChannelConfig("ops", urls=urls),),
        dashboard_url="http://127.0.0.1:9180/", **kw,
    )
    return AlertEngine(cfg, tmp_path, "web1", clock=time.time, **retry)


async def until(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    """Wait until predicate() is true, polling; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.02)


def kinds(engine: AlertEngine) -> list[tuple[str, str]]:
    """Delivery records, oldest first: (kind, notification)."""
    return [(h.kind, h.notification) for h in reversed(engine.history(limit=1000))
            if h.kind in ("delivered", "failed")]


def recover(engine: AlertEngine, t0: float) -> None:
    """Calm values every 10 s for 70 s: past the 60 s hold, so it resolves."""
    for i in range(8):
        engine.evaluate(t0 + 10 * i, CALM)


def fire_and_recover(engine: AlertEngine, t0: float) -> None:
    engine.evaluate(t0, HOT)
    recover(engine, t0 + 1)


# --- SMTP ------------------------------------------------------------------------------


class Mailbox:
    """An aiosmtpd handler that keeps what it receives and accepts one login."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.original_content))
        return "250 Message accepted for delivery"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        self.logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"pass")


def smtp_server(port: int) -> tuple[Controller, Mailbox]:
    box = Mailbox()
    controller = Controller(
        box, hostname="127.0.0.1", port=port, auth_require_tls=False,
        authenticator=box.authenticate, ready_timeout=5.0,
    )
    controller.start()
    return controller, box


def mail_url(port: int) -> str:
    return (f"mailto://user:pass@127.0.0.1:{port}?mode=insecure"
            f"&from=sysmond@example.com&to=ops@example.com")


def subject(msg: email.message.Message) -> str:
    return str(email.header.make_header(email.header.decode_header(msg["Subject"])))


def text_body(msg: email.message.Message) -> str:
    for part in msg.walk():
        if part.get_content_type() in ("text/plain", "text/html"):
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text part")


async def test_an_email_goes_out_through_apprise_mailto_to_a_local_smtp_server(tmp_path):
    port = free_port()
    controller, box = smtp_server(port)
    engine = engine_for(tmp_path, (mail_url(port),))
    await engine.start()
    try:
        t0 = time.time()
        fire_and_recover(engine, t0)
        await until(lambda: len(box.messages) == 2)
        await until(lambda: len(kinds(engine)) == 2)
    finally:
        await engine.stop()
        controller.stop()
    assert box.logins[0] == (b"user", b"pass")
    firing, resolved = box.messages
    assert subject(firing) == (
        "[web1] FIRING WARNING cpu_high: cpu.usage_percent = 95.0 % (> 80.0 %)")
    assert firing["To"] == "ops@example.com" and "sysmond@example.com" in firing["From"]
    body = text_body(firing)
    assert "cpu_high is firing on web1 (warning)." in body
    assert "cpu.usage_percent is 95.0 %, threshold > 80.0 %" in body
    assert "Check top." in body and "http://127.0.0.1:9180/" in body
    assert subject(resolved).startswith("[web1] RESOLVED cpu_high: cpu.usage_percent = 10.0 %")
    assert "Peak 95.0 %." in text_body(resolved)
    assert kinds(engine) == [("delivered", "firing"), ("delivered", "resolved")]


async def test_a_dead_smtp_server_is_retried_with_backoff_then_recorded_failed(
    tmp_path, monkeypatch
):
    attempts: list[float] = []
    original = Sender.send

    def counting_send(self, target, event, timeout):
        attempts.append(time.monotonic())
        return original(self, target, event, timeout)

    monkeypatch.setattr(Sender, "send", counting_send)
    port = free_port()  # nothing listens here yet
    engine = engine_for(tmp_path, (mail_url(port),), retry_for=1, backoff_initial=0.05,
                        backoff_max=0.4)
    await engine.start()
    try:
        started = time.monotonic()
        engine.evaluate(time.time(), HOT)
        await until(lambda: kinds(engine) == [("failed", "firing")], timeout=5)
        elapsed = time.monotonic() - started
        (record,) = [h for h in engine.history() if h.kind == "failed"]
        # Attempts at about 0, .05, .15, .35, .75 and a last one at the 1 s deadline.
        assert 4 <= record.attempts <= 8 and len(attempts) == record.attempts
        gaps = [b - a for a, b in itertools.pairwise(attempts)]
        assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.2  # backing off
        assert attempts[-1] - attempts[0] <= 3.0  # not retried much past retry_for
        assert elapsed >= 1.0
        assert record.target == "ops:mailto" and record.error
        status = engine.status()
        assert status["failed_deliveries"] == 1 and status["queue"] == 0
        assert status["last_delivery_error"]["target"] == "ops:mailto"
        # The SMTP server comes back: the next notification gets through.
        controller, box = smtp_server(port)
        try:
            recover(engine, time.time())
            await until(lambda: len(box.messages) == 1)
            await until(lambda: kinds(engine)[-1] == ("delivered", "resolved"))
        finally:
            controller.stop()
    finally:
        await engine.stop()
    assert subject(box.messages[0]).startswith("[web1] RESOLVED cpu_high")


# --- webhooks --------------------------------------------------------------------------


class Receiver:
    """An aiohttp app that records JSON posts; `hang` makes it never answer."""

    def __init__(self, reply: str = "ok", hang: bool = False) -> None:
        self.posts: list[tuple[str, dict]] = []
        self.reply = reply
        self.hang = hang
        self.release = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        self.posts.append((request.path, await request.json()))
        if self.hang:
            await self.release.wait()
        return web.Response(text=self.reply)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        return app


async def test_a_json_webhook_reaches_a_local_http_server(tmp_path, aiohttp_server):
    receiver = Receiver()
    server = await aiohttp_server(receiver.app(), host="127.0.0.1")
    engine = engine_for(tmp_path, (f"json://127.0.0.1:{server.port}/hooks/sysmond",))
    await engine.start()
    try:
        fire_and_recover(engine, time.time())
        await until(lambda: len(kinds(engine)) == 2)
    finally:
        await engine.stop()
    assert kinds(engine) == [("delivered", "firing"), ("delivered", "resolved")]
    (path, firing), (_, resolved) = receiver.posts
    assert path == "/hooks/sysmond"
    assert firing["title"].startswith("[web1] FIRING WARNING cpu_high")
    assert "cpu.usage_percent is 95.0 %, threshold > 80.0 %" in firing["message"]
    assert firing["type"] == "warning"
    assert resolved["title"].startswith("[web1] RESOLVED cpu_high")
    assert resolved["type"] == "success"


async def test_the_slack_message_format_is_checked_on_a_local_server(
    tmp_path, aiohttp_server, monkeypatch
):
    from apprise.plugins.slack import NotifySlack

    receiver = Receiver(reply="ok")  # what Slack's incoming webhooks answer
    server = await aiohttp_server(receiver.app(), host="127.0.0.1")
    # Apprise's Slack plugin posts to hooks.slack.com; point it at the local server.
    monkeypatch.setattr(NotifySlack, "webhook_url", f"http://127.0.0.1:{server.port}/services")
    engine = engine_for(tmp_path, ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7",))
    await engine.start()
    try:
        engine.evaluate(time.time(), HOT)
        await until(lambda: kinds(engine) == [("delivered", "firing")])
    finally:
        await engine.stop()
    ((path, payload),) = receiver.posts
    assert path == "/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7"
    (attachment,) = payload["attachments"]
    assert attachment["title"] == (
        "[web1] FIRING WARNING cpu_high: cpu.usage_percent = 95.0 % (&gt; 80.0 %)")
    assert "cpu_high is firing on web1 (warning)." in attachment["text"]
    assert "Dashboard: http://127.0.0.1:9180/" in attachment["text"]
    assert attachment["color"]


async def test_a_receiver_that_hangs_never_delays_evaluate(tmp_path, aiohttp_server):
    receiver = Receiver(hang=True)
    server = await aiohttp_server(receiver.app(), host="127.0.0.1")
    engine = engine_for(tmp_path, (f"json://127.0.0.1:{server.port}/hook",),
                        delivery_timeout=0.5, retry_for=1, backoff_initial=0.1)
    await engine.start()
    try:
        t = time.time()
        engine.evaluate(t, HOT)
        await until(lambda: receiver.posts)  # the receiver now holds the request
        worst = 0.0
        for i in range(200):  # ticks while delivery hangs
            t0 = time.perf_counter()
            engine.evaluate(t + 1 + i, HOT)
            worst = max(worst, time.perf_counter() - t0)
            await asyncio.sleep(0.005)
        assert worst < 0.1  # a blocked tick would take the 0.5 s delivery timeout
        await until(lambda: kinds(engine) == [("failed", "firing")], timeout=10)
    finally:
        receiver.release.set()
        await engine.stop()
    (record,) = [h for h in engine.history() if h.kind == "failed"]
    assert record.attempts >= 1 and record.error


# --- the log file channel and restarts ---------------------------------------------------


async def test_the_log_file_channel_writes_json_lines(tmp_path):
    cfg = AlertsConfig(rules=(cpu_rule(for_seconds=0, channels=("log",)),),
                       channels=(ChannelConfig("log", log_file="alerts.log"),))
    engine = AlertEngine(cfg, tmp_path, "web1", clock=time.time)
    await engine.start()
    try:
        fire_and_recover(engine, 1_715_000_000.0)
        await until(lambda: len(kinds(engine)) == 2)
    finally:
        await engine.stop()
    lines = [json.loads(x) for x in (tmp_path / "alerts.log").read_text().splitlines()]
    assert [(r["state"], r["value"]) for r in lines] == [("firing", 95.0), ("resolved", 10.0)]
    for r in lines:
        assert {"time", "host", "rule", "instance", "state", "value", "threshold"} <= set(r)
        assert (r["host"], r["rule"], r["instance"], r["threshold"]) == (
            "web1", "cpu_high", CPU, 80.0)


async def test_restart_neither_re_sends_nor_forgets_and_recovers_once(tmp_path, aiohttp_server):
    receiver = Receiver()
    server = await aiohttp_server(receiver.app(), host="127.0.0.1")
    urls = (f"json://127.0.0.1:{server.port}/hook",)
    t = time.time()

    # First run: fires; the daemon stops before delivering (the notification is queued).
    first = engine_for(tmp_path, urls)
    first.evaluate(t, HOT)
    assert receiver.posts == []

    # Second run: delivers the queued firing once, still firing, no re-send.
    second = engine_for(tmp_path, urls)
    assert second.states()[0].state == "firing"
    await second.start()
    try:
        await until(lambda: kinds(second) == [("delivered", "firing")])
        for i in range(1, 30):
            second.evaluate(t + i, HOT)
        await asyncio.sleep(0.1)
    finally:
        await second.stop()
    assert len(receiver.posts) == 1

    # Third run: still firing, nothing re-sent; then it recovers and notifies once.
    third = engine_for(tmp_path, urls)
    assert third.states()[0].state == "firing" and third.states()[0].notified
    await third.start()
    try:
        for i in range(30, 60):
            third.evaluate(t + i, HOT)
        for i in range(60, 125):
            third.evaluate(t + i, CALM)
        await until(lambda: kinds(third)[-1:] == [("delivered", "resolved")])
        await asyncio.sleep(0.1)
    finally:
        await third.stop()
    titles = [p["title"] for _, p in receiver.posts]
    assert len(titles) == 2
    assert titles[0].startswith("[web1] FIRING") and titles[1].startswith("[web1] RESOLVED")
    # The whole story is in the history, across the three runs.
    story = [h.kind for h in reversed(third.history(limit=100))]
    assert story == ["firing", "delivered", "resolved", "delivered"]


def test_sending_threads_are_not_left_behind(tmp_path):
    """Every test above stopped its engine; no delivery thread should linger long."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        alive = [t for t in threading.enumerate() if t.name.startswith("sysmond-alert")]
        if not alive:
            return
        time.sleep(0.05)
    raise AssertionError(f"threads still alive: {alive}")
