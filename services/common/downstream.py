"""Every call from one service to another goes through `Downstream`: one place for timeouts,
the circuit breaker, retries, the bulkhead, credentials, error translation and outcome tracking.

A downstream 4xx reaches the caller as the same error (the caller's mistake, not an outage, so
the breaker counts it as a success); a 5xx, a refused connection or a timeout becomes
`DependencyUnavailable`, with a `reason` the fallbacks and the metrics use.

With the resilience layer off, a call is one plain attempt with a long timeout: no breaker,
no retry, no bulkhead.
"""

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from services.common import deadline as budget
from services.common.aiohttp_transport import InternalClient
from services.common.auth import ServiceCredential
from services.common.breaker import OPEN, Admission, AsyncBreaker, BreakerOpen
from services.common.bulkhead import Bulkhead, BulkheadFull
from services.common.errors import DependencyUnavailable, error_for_status
from services.common.metrics import ServiceMetrics
from services.common.outcomes import OutcomeWindow
from services.common.policy import UNGUARDED_TIMEOUT_S, EdgePolicy
from services.common.retry import is_idempotent

# The whole-call deadline is a backstop: each attempt's own timeout fires first.
DEADLINE_MARGIN_S = 0.05
# How long a call that may be repeated (a read, a write with an idempotency key) waits on the
# half-open probe it became before its fallback answers; the probe itself goes on in the
# background, with the edge's own timeout, and decides the breaker.
PROBE_PATIENCE_S = 0.2


def open_http_client(max_connections: int = 256) -> httpx.AsyncClient:
    """httpx's API over aiohttp's pool (services.common.aiohttp_transport says why), keeping
    up to `max_connections` connections open and alive."""
    return InternalClient(max_connections, httpx.Timeout(UNGUARDED_TIMEOUT_S))


class Downstream:
    def __init__(
        self,
        name: str,
        base_url: str,
        client: httpx.AsyncClient,
        credential: ServiceCredential,
        metrics: ServiceMetrics,
        policy: EdgePolicy | None = None,
        resilient: bool = True,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.client = client
        self.credential = credential
        self.metrics = metrics
        self.policy = policy or EdgePolicy()
        self.resilient = resilient
        self.outcomes = OutcomeWindow()
        self.breaker = AsyncBreaker(name, self.policy.breaker, on_change=metrics.breaker_changed)
        self.bulkhead = Bulkhead(
            name, self.policy.max_concurrent, self.policy.max_waiting, self.policy.max_wait_s
        )
        self._probes: set[asyncio.Task[httpx.Response]] = set()
        metrics.breaker_state.labels(metrics.service, name).set(0)

    async def request(
        self,
        method: str,
        path: str,
        *,
        user_token: str | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        idempotent: bool | None = None,
        slow_ok: bool = False,
    ) -> httpx.Response:
        """`slow_ok` gives a call that is slow by nature (hashing a password) the edge's
        slow timeout instead of its usual one."""
        sent = dict(self.credential.header())
        if user_token is not None:
            sent["Authorization"] = f"Bearer {user_token}"
        if headers:
            sent.update(headers)
        call = _Call(method, self.base_url + path, json, params, sent)
        budget.refuse_if_spent(self.name)
        if not self.resilient:
            return await self._attempt(call, httpx.Timeout(UNGUARDED_TIMEOUT_S), guarded=False)
        repeatable = is_idempotent(method, headers) if idempotent is None else idempotent
        return await self._with_retries(call, repeatable, slow_ok)

    async def _with_retries(self, call: "_Call", repeatable: bool, slow_ok: bool) -> httpx.Response:
        policy = self.policy
        loop = asyncio.get_running_loop()
        read_timeout_s = policy.slow_timeout_s if slow_ok else policy.read_timeout_s
        deadline = loop.time() + (policy.slow_timeout_s + 0.5 if slow_ok else policy.deadline_s)
        deadline = budget.capped(deadline)  # never past the caller's own deadline
        attempts = policy.retry.attempts if repeatable else 1
        for attempt in range(1, attempts + 1):
            remaining = deadline - loop.time()
            limits = httpx.Timeout(
                min(read_timeout_s, remaining),
                connect=min(policy.connect_timeout_s, remaining),
            )
            try:
                async with asyncio.timeout(remaining + DEADLINE_MARGIN_S):
                    return await self._attempt(call, limits, guarded=True, hedge=repeatable)
            except TimeoutError as exc:
                raise self._timed_out() from exc
            except DependencyUnavailable as exc:
                pause = policy.retry.backoff_s(attempt)
                last = attempt == attempts or exc.reason in ("breaker-open", "bulkhead-full")
                if last or loop.time() + pause >= deadline:
                    raise
                self.metrics.series(self.metrics.retries, self.name).inc()
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(
        self, call: "_Call", limits: httpx.Timeout, guarded: bool, hedge: bool = False
    ) -> httpx.Response:
        admission = await self._admit() if guarded else None
        if admission is not None and admission.probe and hedge:
            return await self._probe_in_background(call, limits, admission)
        return await self._send(call, limits, admission, guarded)

    async def _probe_in_background(
        self, call: "_Call", limits: httpx.Timeout, admission: Admission
    ) -> httpx.Response:
        """A caller whose call is the half-open probe does not pay for a dependency that is still
        slow: past `PROBE_PATIENCE_S` it gets the breaker-open answer (and its fallback) while the
        probe runs on, to its own timeout, and closes or reopens the breaker. Only repeatable
        calls are probed this way: reads, and writes with an idempotency key, whose fallback
        (the gateway's outbox) sends the write again under the same key, so that the probe and
        the delivery are applied once between them. A write without a key waits for its own
        outcome: nothing could tell its second sending from a new write."""
        probe = asyncio.create_task(self._send(call, limits, admission, guarded=True))
        self._probes.add(probe)
        probe.add_done_callback(_forget_probe(self._probes))
        done, _ = await asyncio.wait({probe}, timeout=PROBE_PATIENCE_S)
        if probe in done:
            return probe.result()
        raise self._rejected(retry_after_s=1.0, kind="probing")

    async def _send(
        self, call: "_Call", limits: httpx.Timeout, admission: Admission | None, guarded: bool
    ) -> httpx.Response:
        try:
            headers = budget.stamped(call.headers, self.name, limits.read)  # the budget left
            response = await self.client.request(
                call.method, call.url, json=call.json, params=call.params,
                headers=headers, timeout=limits,
            )  # fmt: skip
        except (asyncio.CancelledError, DependencyUnavailable):  # cancelled, or no time left
            if admission is not None:
                self.breaker.abandoned(admission)
            raise
        except httpx.TimeoutException as exc:
            self._failed(admission, exc, "timeout")
            raise self._timed_out() from exc
        except httpx.HTTPError as exc:  # refused, reset, broken protocol: not an answer
            self._failed(admission, exc, "unreachable")
            raise DependencyUnavailable(
                self.name, f"{self.name} is unreachable", reason="unreachable"
            ) from exc
        finally:
            if guarded:
                self.bulkhead.leave()
        if response.status_code >= 500:
            error = DependencyUnavailable(
                self.name, f"{self.name} answered {response.status_code}", reason="error"
            )
            self._failed(admission, error, "error")
            raise error
        self._record("ok", ok=True)
        if admission is not None:
            self.breaker.succeeded(admission)
        if response.status_code >= 400:
            refusal = error_for_status(response.status_code, _problem_detail(response))
            if "retry-after" in response.headers:
                refusal.headers["Retry-After"] = response.headers["retry-after"]
            raise refusal
        return response

    async def _admit(self) -> Admission:
        """Take a bulkhead slot (waiting for one where the policy allows) and the breaker's
        permission, or refuse."""
        try:
            await self.bulkhead.enter()
        except BulkheadFull as exc:
            self.metrics.series(self.metrics.rejections, self.name, "bulkhead").inc()
            raise DependencyUnavailable(
                self.name, f"{self.name} is saturated", reason="bulkhead-full"
            ) from exc
        try:
            return self.breaker.admit()
        except BreakerOpen as exc:
            self.bulkhead.leave()
            raise self._rejected(exc.retry_after_s, kind="breaker") from exc

    @property
    def available(self) -> bool:
        """Whether a call now would be let through (the breaker is not open)."""
        return self.breaker.state != OPEN or self.breaker.retry_after_s() == 0

    def _timed_out(self) -> DependencyUnavailable:
        return DependencyUnavailable(self.name, f"{self.name} timed out", reason="timeout")

    def _rejected(self, retry_after_s: float, kind: str) -> DependencyUnavailable:
        """Refused without calling: the breaker is open (`breaker`), or the call became the
        half-open probe and outlasted the caller's patience (`probing`)."""
        self.metrics.series(self.metrics.rejections, self.name, kind).inc()
        return DependencyUnavailable(
            self.name,
            f"{self.name} is failing; calls are suspended",
            retry_after_s=int(retry_after_s + 0.999),
            reason="breaker-open",
        )

    def _failed(self, admission: Admission | None, exc: BaseException, outcome: str) -> None:
        self._record(outcome, ok=False)
        if admission is not None:
            self.breaker.failed(admission, exc)

    def _record(self, outcome: str, *, ok: bool) -> None:
        self.outcomes.record(ok)
        self.metrics.series(self.metrics.downstream_calls, self.name, outcome).inc()


def _forget_probe(
    probes: set["asyncio.Task[httpx.Response]"],
) -> "Callable[[asyncio.Task[httpx.Response]], None]":
    def forget(task: "asyncio.Task[httpx.Response]") -> None:
        probes.discard(task)
        if not task.cancelled():
            task.exception()  # the breaker has its outcome; nobody else waits for it

    return forget


class _Call:
    __slots__ = ("headers", "json", "method", "params", "url")

    def __init__(
        self,
        method: str,
        url: str,
        json: Any,
        params: dict[str, Any] | None,
        headers: dict[str, str],
    ) -> None:
        self.method, self.url, self.json, self.params, self.headers = (
            method, url, json, params, headers,
        )  # fmt: skip


def _problem_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])
    return response.reason_phrase
