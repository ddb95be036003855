"""Request limits: a body-size cap (ASGI middleware) and a per-client token bucket."""

from __future__ import annotations

import json
import threading
import time


class BodyLimitMiddleware:
    """Answer 413 to request bodies larger than ``max_bytes`` (declared or streamed), before any parsing."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, int(max_bytes)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                await self._reject(send, 400, "content-length: not an integer", "content-length")
                return
            if too_big:
                await self._reject(send, 413, f"body larger than {self.max_bytes} bytes", "body")
                return
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._reject(send, 413, f"body larger than {self.max_bytes} bytes", "body")

    @staticmethod
    async def _reject(send, status: int, detail: str, field: str) -> None:
        body = json.dumps({"detail": detail, "field": field}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class TokenBucket:
    """Per-key token bucket: ``rate`` tokens per second, at most ``burst``; :meth:`take` returns 0 when a token was
    taken, else the seconds until one is available. Keys idle for a minute are forgotten."""

    def __init__(self, rate: float, burst: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate limit: rate must be > 0 and burst >= 1, got rate={rate}, burst={burst}")
        self.rate, self.burst = float(rate), float(burst)
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._state.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._state[key] = (tokens - 1, now)
                wait = 0.0
            else:
                self._state[key] = (tokens, now)
                wait = (1 - tokens) / self.rate
            if len(self._state) > 10_000:
                self._state = {k: v for k, v in self._state.items() if now - v[1] < 60}
            return wait
