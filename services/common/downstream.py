"""Every call from one service to another goes through `Downstream`: one place for timeouts,
credentials, error translation and outcome tracking.

A downstream 4xx reaches the caller as the same error (it is the caller's mistake, not an
outage); a 5xx, a refused connection or a timeout becomes `DependencyUnavailable`.
"""

import itertools
from collections.abc import Sequence
from typing import Any

import httpx

from services.common.auth import ServiceCredential
from services.common.errors import DependencyUnavailable, error_for_status
from services.common.metrics import ServiceMetrics
from services.common.outcomes import OutcomeWindow


def open_http_client(max_connections: int = 200) -> httpx.AsyncClient:
    # httpx keeps only 20 idle keep-alive connections by default: under load every call beyond
    # that would open a new connection.
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    return httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(5.0, connect=1.0))


class Downstream:
    def __init__(
        self,
        name: str,
        base_url: str,
        client: httpx.AsyncClient,
        credential: ServiceCredential,
        metrics: ServiceMetrics,
        timeout: httpx.Timeout | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.client = client
        self.credential = credential
        self.metrics = metrics
        self.timeout = timeout or httpx.Timeout(5.0, connect=1.0)
        self.outcomes = OutcomeWindow()

    async def request(
        self,
        method: str,
        path: str,
        *,
        user_token: str | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = dict(self.credential.header())
        if user_token is not None:
            sent["Authorization"] = f"Bearer {user_token}"
        if headers:
            sent.update(headers)
        try:
            response = await self.client.request(
                method,
                self.base_url + path,
                json=json,
                params=params,
                headers=sent,
                timeout=self.timeout,
            )
        except httpx.TimeoutException as exc:
            self._record("timeout", ok=False)
            raise DependencyUnavailable(self.name, f"{self.name} timed out") from exc
        except httpx.TransportError as exc:
            self._record("unreachable", ok=False)
            raise DependencyUnavailable(self.name, f"{self.name} is unreachable") from exc
        if response.status_code >= 500:
            self._record("error", ok=False)
            raise DependencyUnavailable(self.name, f"{self.name} answered {response.status_code}")
        self._record("ok", ok=True)
        if response.status_code >= 400:
            raise error_for_status(response.status_code, _problem_detail(response))
        return response

    def _record(self, outcome: str, *, ok: bool) -> None:
        self.outcomes.record(ok)
        self.metrics.downstream_calls.labels(self.metrics.service, self.name, outcome).inc()


class ReplicaSet:
    """Replicas of one service, called in turn."""

    def __init__(self, name: str, replicas: Sequence[Downstream]) -> None:
        if not replicas:
            raise ValueError(f"{name} needs at least one replica")
        self.name = name
        self.replicas = list(replicas)
        self._turn = itertools.cycle(self.replicas)

    def next(self) -> Downstream:
        return next(self._turn)


def _problem_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])
    return response.reason_phrase
