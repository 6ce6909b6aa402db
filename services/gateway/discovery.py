"""Timeline replicas found by name (`FAILWHALE_TIMELINE_DISCOVERY`, e.g. `tasks.timeline:8000`)
instead of listed: where an orchestrator starts and stops the replicas, the gateway asks DNS for
the name's addresses every few seconds and keeps one `Downstream`, with a breaker of its own,
per address, adding replicas as they come and dropping them as they go.

The lookups run in the background, one at a time and each bounded: a request never waits on
DNS. A name that has no address (every replica gone) leaves the set empty, and timeline reads
take their fallback; a lookup that fails (no answer in time, a resolver error) keeps the
replicas known so far, whose breakers judge them.

Each replica is named for /v1/status and /metrics by the reverse lookup of its address: Docker
answers it with the task's name, `<stack>_timeline.<slot>.<task id>.<network>`, and the replica
is called `timeline-<slot>`, as the two fixed replicas are; otherwise it is called by its
address.
"""

import asyncio
import concurrent.futures
import contextlib
import logging
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from services.common.cancellation import end_if_cancelled
from services.common.downstream import Downstream
from services.common.replicas import ReplicaSet

log = logging.getLogger("failwhale.discovery")

T = TypeVar("T")
# getaddrinfo's answers for a name that exists nowhere or has no address of this kind: the
# resolver answered, and the answer is "none".
NO_ADDRESS = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}


class LookupFailed(Exception):
    """The resolver gave no answer (it timed out, failed, or is still busy with the last one)."""


class Resolver(Protocol):
    async def addresses(self, host: str, port: int) -> list[str]:
        """The name's addresses now; [] when it has none; `LookupFailed` when unknown."""

    async def name_of(self, address: str) -> str | None:
        """The address's name by reverse lookup, None when it has none."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class DiscoveryName:
    """`host:port`, the name to resolve and the port every replica listens on."""

    host: str
    port: int

    @classmethod
    def parse(cls, value: str) -> "DiscoveryName":
        host, sep, port = value.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"a discovery name is host:port (tasks.timeline:8000), not {value!r}")
        return cls(host.strip("[]"), int(port))

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


class SystemResolver:
    """The system's resolver (getaddrinfo, gethostbyaddr) in one thread of its own: at most one
    lookup at a time, each given up after `timeout_s` (a lookup the system never returns from
    holds that one thread, and the next ones fail as busy, instead of piling up threads)."""

    def __init__(self, timeout_s: float = 2.0) -> None:
        self.timeout_s = timeout_s
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="discovery")
        self._last: concurrent.futures.Future[Any] | None = None

    async def _lookup(self, call: Callable[..., T], *args: Any) -> T:
        if self._last is not None and not self._last.done():
            raise LookupFailed("the previous lookup has not returned yet")
        self._last = self._pool.submit(call, *args)
        try:
            async with asyncio.timeout(self.timeout_s):
                result: T = await asyncio.wrap_future(self._last)
                return result
        except TimeoutError as exc:
            raise LookupFailed(f"no answer within {self.timeout_s} s") from exc

    async def addresses(self, host: str, port: int) -> list[str]:
        try:
            answers = await self._lookup(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
        except socket.gaierror as exc:
            if exc.errno in NO_ADDRESS:
                return []
            raise LookupFailed(str(exc)) from exc
        except OSError as exc:
            raise LookupFailed(str(exc)) from exc
        return sorted({str(sockaddr[0]) for *_, sockaddr in answers})

    async def name_of(self, address: str) -> str | None:
        try:
            name, _, _ = await self._lookup(socket.gethostbyaddr, address)
        except (OSError, LookupFailed):
            return None
        return name

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def replica_name(family: str, host_name: str | None, address: str) -> str:
    """`timeline-<slot>` from a task's name (`<stack>_timeline.<slot>.<task id>...`), else the
    address."""
    pattern = rf"^(?:[\w.-]*_)?{re.escape(family)}\.(\d+)\.[0-9a-z]+(?:\.|$)"
    found = re.match(pattern, host_name or "")
    return f"{family}-{int(found.group(1))}" if found else address


def url_of(address: str, port: int) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{port}"


# The shortest time between two lookups, when failing calls ask for them.
SOONEST_S = 0.5

Make = Callable[[str, str], Downstream]  # (replica name, base URL) -> a new Downstream


class ReplicaDiscovery:
    """Keeps `replicas` (a `ReplicaSet`) in step with the addresses `name` resolves to."""

    def __init__(
        self,
        name: DiscoveryName,
        replicas: ReplicaSet,
        make: Make,
        resolver: Resolver,
        interval_s: float = 2.0,
        lookup_timeout_s: float = 2.0,
    ) -> None:
        self.name = name
        self.replicas = replicas
        self.make = make
        self.resolver = resolver
        self.interval_s = interval_s
        self.lookup_timeout_s = lookup_timeout_s
        self.known: dict[str, Downstream] = {}  # address -> its replica
        self.lookups = 0
        self.last_error: str | None = None
        self._soon = asyncio.Event()
        replicas.on_exhausted = self._soon.set

    async def run(self) -> None:
        """Refresh every `interval_s` until cancelled (the first one after `interval_s`), and
        sooner when a call found no replica that answered: the tasks may have been replaced
        (a rolling update) and their successors answer the name already. At most one lookup
        every `SOONEST_S`, however many calls fail meanwhile."""
        soonest_s = min(SOONEST_S, self.interval_s)
        while True:
            end_if_cancelled()
            await asyncio.sleep(soonest_s)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval_s - soonest_s):
                    await self._soon.wait()
            self._soon.clear()
            try:
                await self.refresh()
            except Exception:
                # A bug must not end discovery for the life of the gateway: the replicas known
                # so far stay, and the next lookup tries again.
                log.exception("replica discovery failed", extra={"discovery": str(self.name)})

    async def refresh(self) -> None:
        """One lookup; the replica set follows its answer (or stays as it was, if none came)."""
        self.lookups += 1
        try:
            async with asyncio.timeout(self.lookup_timeout_s):
                found = await self.resolver.addresses(self.name.host, self.name.port)
        except (LookupFailed, TimeoutError) as exc:
            self.last_error = str(exc) or "no answer in time"
            log.warning(
                "replica lookup failed; keeping the replicas known",
                extra={"discovery": str(self.name), "reason": self.last_error},
            )
            return
        self.last_error = None
        gone = [address for address in self.known if address not in found]
        for address in gone:
            self._drop(address)
        for address in found:
            if address not in self.known:
                await self._add(address)
        self.replicas.replace(sorted(self.known.values(), key=lambda d: (d.name, d.base_url)))

    async def _add(self, address: str) -> None:
        try:
            async with asyncio.timeout(self.lookup_timeout_s):
                host_name = await self.resolver.name_of(address)
        except TimeoutError:
            host_name = None
        name = replica_name(self.replicas.name, host_name, address)
        if name in {d.name for d in self.known.values()}:
            name = address  # two tasks of one slot at once (an update starting the new first)
        self.known[address] = self.make(name, url_of(address, self.name.port))
        log.info(
            "replica found", extra={"discovery": str(self.name), "replica": name, "at": address}
        )

    def _drop(self, address: str) -> None:
        replica = self.known.pop(address)
        # Its calls still under way finish, but it no longer speaks for the name it had: a
        # replica that takes its slot (and name) keeps the breaker gauge for itself.
        replica.breaker.on_change = None
        if replica.name not in {d.name for d in self.known.values()}:
            metrics = replica.metrics
            with contextlib.suppress(KeyError):
                metrics.breaker_state.remove(metrics.service, replica.name)
        log.info(
            "replica gone",
            extra={"discovery": str(self.name), "replica": replica.name, "at": address},
        )
