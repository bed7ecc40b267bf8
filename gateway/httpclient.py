"""A minimal asyncio HTTP/1.1 client with keep-alive pools, for the hot paths.

The balancer forwards every payment and the load generator sends them; with
httpx each request costs ~1.5 ms of CPU, which on a 2-core box is most of the
budget.  This client does only what those two need (plain HTTP, Content-Length
or chunked bodies, keep-alive) in a fraction of that, and its errors say the
one thing the balancer must know: did the failure happen before the request
could have reached the server (``ConnectFailed``), or after it was sent but
before any response byte (``ResetBeforeResponse``)?
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit


class HttpError(Exception):
    """Base class of transport failures."""


class ConnectFailed(HttpError):
    """The connection could not be opened: nothing was sent."""


class ResetBeforeResponse(HttpError):
    """The request was (maybe) sent, but the connection closed before any response."""


class ResponseTimeout(HttpError):
    """No complete response within the timeout."""


class ProtocolFailure(HttpError):
    """The server answered something that is not HTTP/1.1 as we read it."""


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


class _Conn:
    __slots__ = ("reader", "writer", "idle_since", "reused")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.idle_since = time.monotonic()
        self.reused = False

    def close(self) -> None:
        self.writer.close()


def split_origin(url: str) -> tuple[str, int, str]:
    """``http://h:p/path`` -> (host, port, path-with-query)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"only http://host:port URLs are supported, got {url!r}")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.hostname, parts.port or 80, path


class HttpClient:
    """Keep-alive pool per (host, port); safe for many concurrent tasks on one loop."""

    def __init__(self, *, connect_timeout_s: float = 1.0, timeout_s: float = 30.0,
                 max_idle_per_host: int = 64, idle_expiry_s: float = 4.0) -> None:
        self.connect_timeout_s = connect_timeout_s
        self.timeout_s = timeout_s
        self.max_idle_per_host = max_idle_per_host
        self.idle_expiry_s = idle_expiry_s
        self._idle: dict[tuple[str, int], deque[_Conn]] = {}

    async def request(self, method: str, url: str, *, headers: dict[str, str] | None = None,
                      body: bytes = b"", timeout_s: float | None = None) -> HttpResponse:
        host, port, path = split_origin(url)
        return await self.request_to(host, port, method, path, headers=headers, body=body,
                                     timeout_s=timeout_s)

    async def request_to(self, host: str, port: int, method: str, path: str, *,
                         headers: dict[str, str] | None = None, body: bytes = b"",
                         timeout_s: float | None = None) -> HttpResponse:
        head = [f"{method} {path} HTTP/1.1\r\nhost: {host}:{port}\r\n"]
        for name, value in (headers or {}).items():
            head.append(f"{name}: {value}\r\n")
        head.append(f"content-length: {len(body)}\r\n\r\n")
        payload = "".join(head).encode("latin-1") + body
        timeout = self.timeout_s if timeout_s is None else timeout_s
        for attempt in (0, 1):
            try:
                conn = await self._acquire(host, port)
            except ConnectFailed:
                if attempt == 1:  # the first try may have reached the server after all
                    raise ResetBeforeResponse(f"{host}:{port} went away mid-request") from None
                raise
            try:
                conn.writer.write(payload)
                response = await asyncio.wait_for(self._read_response(conn, method), timeout)
            except ResetBeforeResponse:
                conn.close()
                # A reused keep-alive connection the server had just closed: the
                # request never reached it, so one retry on a fresh connection is safe.
                if conn.reused and attempt == 0:
                    continue
                raise
            except TimeoutError:
                conn.close()
                raise ResponseTimeout(f"no response from {host}:{port} in {timeout:g}s") from None
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                conn.close()
                raise ProtocolFailure(f"{host}:{port}: {exc.__class__.__name__}") from None
            except BaseException:
                conn.close()
                raise
            if response.headers.get("connection", "").lower() == "close":
                conn.close()
            else:
                self._release(host, port, conn)
            return response
        raise AssertionError("unreachable")

    async def _acquire(self, host: str, port: int) -> _Conn:
        idle = self._idle.get((host, port))
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if now - conn.idle_since < self.idle_expiry_s and not conn.reader.at_eof():
                conn.reused = True
                return conn
            conn.close()
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), self.connect_timeout_s)
        except (OSError, TimeoutError) as exc:
            raise ConnectFailed(f"cannot connect to {host}:{port} ({exc.__class__.__name__})"
                                ) from None
        return _Conn(reader, writer)

    def _release(self, host: str, port: int, conn: _Conn) -> None:
        idle = self._idle.setdefault((host, port), deque())
        if len(idle) >= self.max_idle_per_host:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        idle.append(conn)

    async def _read_response(self, conn: _Conn, method: str) -> HttpResponse:
        reader = conn.reader
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError) as exc:
            partial = getattr(exc, "partial", b"")
            if not partial:
                raise ResetBeforeResponse("connection closed before any response") from None
            raise ProtocolFailure("connection closed in the middle of a response") from None
        except asyncio.LimitOverrunError:
            raise ProtocolFailure("response head too large") from None
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return HttpResponse(status, headers, b"")
        if "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._read_chunked(reader)
        else:
            body = await reader.read()
            headers["connection"] = "close"
        return HttpResponse(status, headers, body)

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        parts: list[bytes] = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # trailer end (no trailers expected)
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)

    async def aclose(self) -> None:
        for idle in self._idle.values():
            while idle:
                idle.pop().close()
        self._idle.clear()
