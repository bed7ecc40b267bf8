"""A small payment load generator that behaves like a careful client.

Used by ``fleetcast gateway --load``, the benchmark, the integration tests and
the controller's demo (traffic replay).  Every logical payment gets its own
Idempotency-Key and is retried with the SAME key on a transport error, a 5xx
or a 409 (still in flight) with capped exponential back-off, exactly as the
API asks clients to do; so the records say which payments were acknowledged
(201), which key they used and which payment id came back, and a test can
check that against the ledger.

Two modes: open loop (``rate_fn(t) -> requests/s`` over ``duration_s``, arrivals
do not wait for answers, as real traffic does) or closed loop
(``rate_fn=None``: ``concurrency`` clients each sending as fast as answered,
until ``total`` payments or ``duration_s``).
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.httpclient import HttpClient, HttpError

RETRY_STATUSES = frozenset({409, 429, 500, 502, 503, 504})
APPROVED_CARDS = (
    ("4242424242424242", "123"),  # visa
    ("5555555555554444", "123"),  # mastercard
    ("378282246310005", "1234"),  # amex
)
DECLINED_CARD = ("4000000000000002", "123")


@dataclass(frozen=True)
class RequestRecord:
    key: str
    status: int  # final HTTP status; 0 = gave up on transport errors
    payment_id: str | None
    attempts: int
    started_at: float  # seconds since the run started
    latency_s: float  # first attempt sent -> final answer
    replayed: bool
    node_id: str | None


@dataclass(frozen=True)
class LoadReport:
    records: list[RequestRecord]
    duration_s: float
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def acked(self) -> list[RequestRecord]:
        return [r for r in self.records if r.status == 201]

    @property
    def throughput(self) -> float:
        return len(self.acked) / self.duration_s if self.duration_s > 0 else 0.0

    def latency_quantile(self, q: float) -> float:
        values = sorted(r.latency_s for r in self.acked)
        if not values:
            return float("nan")
        return values[min(len(values) - 1, int(q * len(values)))]

    def summary(self) -> dict[str, Any]:
        acked = self.acked
        return {
            "requests": len(self.records),
            "acked": len(acked),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "retried": sum(1 for r in self.records if r.attempts > 1),
            "duration_s": round(self.duration_s, 3),
            "throughput_rps": round(self.throughput, 1),
            "p50_ms": round(self.latency_quantile(0.50) * 1000, 2),
            "p90_ms": round(self.latency_quantile(0.90) * 1000, 2),
            "p99_ms": round(self.latency_quantile(0.99) * 1000, 2),
            "mean_ms": round(statistics.fmean(r.latency_s for r in acked) * 1000, 2)
            if acked else None,
            "by_node": dict(Counter(r.node_id for r in acked if r.node_id)),
        }


def payment_body(rng: random.Random, decline_fraction: float = 0.02) -> dict[str, Any]:
    number, cvc = DECLINED_CARD if rng.random() < decline_fraction else rng.choice(APPROVED_CARDS)
    return {
        "merchant_id": f"merchant_{rng.randrange(1, 21):03d}",
        "amount_minor": rng.randrange(100, 100_000),
        "currency": rng.choice(("USD", "USD", "EUR", "GBP")),
        "card": {"number": number, "exp_month": rng.randrange(1, 13), "exp_year": 2031,
                 "cvc": cvc},
        "description": "fleetcast load",
    }


async def send_payment(
    client: HttpClient,
    base_url: str,
    body: dict[str, Any],
    *,
    key: str | None = None,
    max_attempts: int = 30,
    backoff_s: float = 0.05,
    max_backoff_s: float = 1.0,
    t0: float | None = None,
    rng: random.Random | None = None,
) -> RequestRecord:
    """POST one payment, retrying with the same key until a final answer."""
    rng = rng or random.Random()
    key = key or uuid.uuid4().hex
    started = time.perf_counter()
    status, payment_id, replayed, node_id, attempt = 0, None, False, None, 0
    payload = json.dumps(body).encode()
    headers = {"content-type": "application/json", "idempotency-key": key}
    for attempt in range(1, max_attempts + 1):
        try:
            response = await client.request("POST", base_url + "/payments", headers=headers,
                                            body=payload)
            status = response.status
            if status == 201:
                data = json.loads(response.body)
                payment_id, node_id = data.get("id"), data.get("node_id")
                replayed = response.headers.get("idempotent-replayed") == "true"
            if status not in RETRY_STATUSES:
                break
        except HttpError:
            status = 0
        delay = min(max_backoff_s, backoff_s * 2 ** (attempt - 1))
        await asyncio.sleep(delay * (0.5 + rng.random()))
    return RequestRecord(
        key=key, status=status, payment_id=payment_id, attempts=attempt,
        started_at=started - (t0 if t0 is not None else started),
        latency_s=time.perf_counter() - started, replayed=replayed, node_id=node_id,
    )


async def run_load(
    base_url: str,
    rate_fn: Callable[[float], float] | None = None,
    duration_s: float = 10.0,
    *,
    total: int | None = None,
    concurrency: int = 32,
    max_attempts: int = 30,
    timeout_s: float = 15.0,
    decline_fraction: float = 0.02,
    seed: int | None = None,
    max_outstanding: int = 2_000,
    on_record: Callable[[RequestRecord], None] | None = None,
) -> LoadReport:
    """Drive ``base_url`` (LB or node) with payments and report what was acknowledged.

    ``on_record`` is called with each finished payment (progress, fault drills).
    In closed-loop mode ``duration_s <= 0`` means "until ``total`` are done".
    """
    base_url = base_url.rstrip("/")
    rng = random.Random(seed)
    records: list[RequestRecord] = []
    client = HttpClient(timeout_s=timeout_s, max_idle_per_host=max(concurrency, 64))
    try:
        t0 = time.perf_counter()

        async def one() -> None:
            record = await send_payment(
                client, base_url, payment_body(rng, decline_fraction),
                max_attempts=max_attempts, t0=t0, rng=rng,
            )
            records.append(record)
            if on_record is not None:
                on_record(record)

        if rate_fn is None:
            remaining = [total if total is not None else 1 << 62]

            async def worker() -> None:
                while remaining[0] > 0 and time.perf_counter() - t0 < duration_s:
                    remaining[0] -= 1
                    await one()

            if total is not None:
                duration_s = float("inf") if duration_s <= 0 else duration_s
            await asyncio.gather(*(worker() for _ in range(concurrency)))
        else:
            tasks: set[asyncio.Task[None]] = set()
            t = 0.0
            while t < duration_s:
                delay = t0 + t - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                if len(tasks) < max_outstanding:
                    task = asyncio.create_task(one())
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                rate = rate_fn(t)
                t += 1.0 / rate if rate > 0 else 0.1
            if tasks:
                await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
    finally:
        await client.aclose()
    return LoadReport(records, elapsed, dict(Counter(r.status for r in records)))


def run_load_sync(base_url: str, **kwargs: Any) -> LoadReport:
    return asyncio.run(run_load(base_url, **kwargs))
