"""Headless Chromium driven over the DevTools protocol, from Python, with no npm.

Why not playwright: the browser tests and `bench/dashboard.py` need only a handful of
things (open a page, run JavaScript, record every request and console error, take a
screenshot, read the JS heap), and the DevTools protocol gives them over one websocket
that aiohttp (already a dependency) speaks. Nothing is downloaded: the browser is
Debian's `chromium` (scripts/apt-packages.txt).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--disable-default-apps", "--disable-extensions",
                  "--disable-features=Translate,OptimizationHints,MediaRouter",
                  "--no-default-browser-check", "--mute-audio", "--hide-scrollbars")


def chromium_path() -> str | None:
    """The Chromium binary, or None if it is not installed."""
    for name in (os.environ.get("SYSMOND_CHROMIUM"), "chromium", "chromium-browser"):
        if name and (found := shutil.which(name)):
            return found
    return None


class CDPError(RuntimeError):
    pass


class Page:
    """One tab: commands, and a record of what happened in it."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._listeners: dict[str, list[asyncio.Future[Any]]] = {}
        self.requests: list[str] = []  # every URL the page asked for
        self.responses: dict[str, dict[str, Any]] = {}  # requestId -> response
        self.bytes_received = 0  # encoded (on the wire) bytes of every response
        self.errors: list[str] = []  # console errors, exceptions, failed loads
        self.console: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(msg.data)
            if "id" in data:
                fut = self._waiting.pop(data["id"], None)
                if fut and not fut.done():
                    if "error" in data:
                        fut.set_exception(CDPError(str(data["error"])))
                    else:
                        fut.set_result(data.get("result", {}))
                continue
            self._event(data.get("method", ""), data.get("params", {}))

    def _event(self, method: str, p: dict[str, Any]) -> None:
        for fut in self._listeners.pop(method, []):
            if not fut.done():
                fut.set_result(p)
        if method == "Network.requestWillBeSent":
            self.requests.append(p["request"]["url"])
        elif method == "Network.responseReceived":
            self.responses[p["requestId"]] = {"url": p["response"]["url"],
                                              "status": p["response"]["status"],
                                              "headers": p["response"].get("headers", {})}
        elif method == "Network.loadingFinished":
            self.bytes_received += int(p.get("encodedDataLength", 0))
        elif method == "Network.loadingFailed":
            if not p.get("canceled"):
                self.errors.append(f"load failed: {p.get('errorText')}")
        elif method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"])
            self.console.append(f"{p['type']}: {text}")
            if p["type"] in ("error", "assert"):
                self.errors.append(f"console.{p['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            self.errors.append("exception: " + d.get("exception", {}).get(
                "description", d.get("text", "?")))
        elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
            self.errors.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")

    async def send(self, method: str, **params: Any) -> Any:
        i = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[i] = fut
        await self.ws.send_str(json.dumps({"id": i, "method": method, "params": params}))
        return await asyncio.wait_for(fut, 30)

    def event(self, method: str) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._listeners.setdefault(method, []).append(fut)
        return fut

    async def enable(self) -> None:
        for domain in ("Page", "Runtime", "Network", "Log"):
            await self.send(f"{domain}.enable")
        await self.send("Network.setCacheDisabled", cacheDisabled=True)

    async def goto(self, url: str, timeout: float = 30) -> None:
        loaded = self.event("Page.loadEventFired")
        result = await self.send("Page.navigate", url=url)
        if result.get("errorText"):
            raise CDPError(f"navigating to {url}: {result['errorText']}")
        await asyncio.wait_for(loaded, timeout)

    async def eval(self, expression: str) -> Any:
        """Evaluate `expression` (awaiting a promise) and return its JSON value."""
        r = await self.send("Runtime.evaluate", expression=expression, awaitPromise=True,
                            returnByValue=True)
        if "exceptionDetails" in r:
            raise CDPError(r["exceptionDetails"].get("exception", {}).get(
                "description", str(r["exceptionDetails"])))
        return r["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 20,
                       what: str | None = None) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = await self.eval(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for "
                                     f"{what or expression}; errors: {self.errors}")
            await asyncio.sleep(0.1)

    async def screenshot(self, path: Path) -> None:
        r = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(r["data"]))

    async def heap_mb(self) -> float:
        """JS heap in use after a full garbage collection, in MB."""
        await self.send("HeapProfiler.collectGarbage")
        r = await self.send("Runtime.getHeapUsage")
        return r["usedSize"] / 1e6

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close()


class Browser:
    """A headless Chromium with a fresh profile, for one test module or benchmark."""

    def __init__(self, width: int = 1280, height: int = 900) -> None:
        self.width, self.height = width, height
        self.profile = Path(tempfile.mkdtemp(prefix="sysmond-chromium-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> Browser:
        exe = chromium_path()
        if exe is None:
            raise CDPError("chromium is not installed (apt-get install chromium)")
        self.proc = subprocess.Popen(
            [exe, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}",
             "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
             f"--window-size={self.width},{self.height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        active = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (active.exists() and active.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise CDPError("chromium did not open its DevTools port")
            await asyncio.sleep(0.05)
        self.port = int(active.read_text().split()[0])
        self.session = aiohttp.ClientSession()
        return self

    async def new_page(self) -> Page:
        assert self.session is not None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?about:blank",
                                     method="PUT")
        info = await asyncio.to_thread(lambda: json.load(urllib.request.urlopen(req, timeout=10)))
        ws = await self.session.ws_connect(info["webSocketDebuggerUrl"], max_msg_size=0)
        page = Page(ws)
        await page.enable()
        await page.send("Emulation.setDeviceMetricsOverride", width=self.width,
                        height=self.height, deviceScaleFactor=1, mobile=False)
        return page

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    async def __aenter__(self) -> Browser:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
