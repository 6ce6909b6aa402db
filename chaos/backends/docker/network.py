"""Network faults of the docker backend, held by a helper container in the target's network
namespace: latency (netem where the kernel has it, else the delay relay behind a REDIRECT of the
service port), loss (iptables `statistic`), partitions (DROP both ways for the peer's address).
Every rule carries the fault's marker in its comment, so a sweep finds what a dead run left."""

import random
import statistics
import time
from typing import Any

from docker.errors import APIError
from docker.models.containers import Container

from chaos.backends.base import AppliedFault, NotApplied
from chaos.backends.docker.helpers import MARKER_PREFIX, HelperError
from chaos.backends.docker.protocol import DockerDriver
from chaos.backends.docker.records import NetworkRules
from chaos.fault_specs import Latency, Loss, Partition
from chaos.journal import Entry
from chaos.network.plans import latency_plan, loss_plan, partition_plan

PROBES = 5
LOSS_PROBES = 10
SLOW_MS = 200  # a lost SYN or segment costs a retransmit: 200 ms to 1 s


def apply_network(
    backend: DockerDriver, spec: Latency | Loss | Partition, fid: str
) -> AppliedFault:
    began = time.monotonic()
    target = backend.container(spec.target)
    if target.status != "running":
        reason = f"{spec.target} is {target.status}: its network cannot be shaped"
        return NotApplied(spec, fid, "iptables", backend.journal, reason)
    marker = f"{MARKER_PREFIX}:{fid}"
    holder = f"{backend.project}-chaos-{fid}"
    prober = holder + "-probe" if isinstance(spec, Latency) else None
    port = backend.port(spec.target)
    peer = None
    if isinstance(spec, Latency):
        netem = backend.has_netem()
        mechanism = "netem" if netem else "delay-proxy"
        relay_port = random.randrange(20_000, 30_000)
        plan = latency_plan(port, spec.delay_ms, spec.jitter_ms, marker, netem, relay_port)
    elif isinstance(spec, Loss):
        mechanism, plan = "iptables", loss_plan(spec.percent, marker)
    else:
        peer = backend.container(spec.peer)
        mechanism, plan = "iptables", partition_plan(backend.address(peer), marker)
    undo = NetworkRules(
        container=target.id,
        marker=marker,
        holder=holder,
        prober=prober,
        qdisc=bool(plan.get("qdisc")),
    )
    backend.journal.record(
        Entry(
            id=fid,
            kind=spec.fault,
            target=spec.target,
            mechanism=mechanism,
            undo=undo,
            peer=spec.peer if isinstance(spec, Partition) else None,
            expires_at=time.time() + spec.duration_s,
        )
    )
    probe = None
    try:
        if prober is not None:
            lifetime = spec.duration_s + 30  # gone by itself soon after the dead-man's turn
            helper = backend.helpers.prober(prober, fid, backend.network(target), lifetime)
            probe = Probe(backend, helper, backend.address(target), port, spec.target)
            probe.baseline_ms = probe.median_ms()
        helper = backend.helpers.hold(
            holder, fid, target, {"marker": marker, "duration_s": spec.duration_s, **plan}
        )
    except (HelperError, APIError) as exc:
        reason = f"{mechanism} could not be applied: {exc}"
        undo.undo(backend)
        backend.journal.mark_reverted(fid, reason)
        return NotApplied(spec, fid, mechanism, backend.journal, reason)
    backend.journal.update(fid, state="applied")
    fault = NetworkFault(spec, fid, mechanism, backend, helper, plan, undo, probe, peer)
    fault.apply_s = time.monotonic() - began
    return fault


class Probe:
    """Times fresh requests to the target from a helper on the project network."""

    def __init__(
        self, backend: DockerDriver, helper: Container, host: str, port: int, service: str
    ):
        self.backend, self.helper = backend, helper
        kind = "redis" if service == "redis" else "http"
        self.spec = {"command": "probe", "host": host, "port": port, "count": PROBES,
                     "kind": kind, "timeout_s": 10.0}  # fmt: skip
        self.baseline_ms = 0.0

    def median_ms(self) -> float:
        times = [t for t in self.backend.helpers.exec(self.helper, self.spec) if t is not None]
        if not times:
            raise HelperError(f"no probe of {self.spec['host']}:{self.spec['port']} answered")
        return float(statistics.median(times))


class NetworkFault(AppliedFault):
    def __init__(
        self,
        spec: Latency | Loss | Partition,
        fid: str,
        mechanism: str,
        backend: DockerDriver,
        helper: Container,
        plan: dict[str, Any],
        undo: NetworkRules,
        probe: Probe | None,
        peer: Container | None,
    ) -> None:
        super().__init__(spec, fid, mechanism, backend.journal)
        self.backend, self.helper, self.plan, self.undo = backend, helper, plan, undo
        self.probe, self.peer_container = probe, peer

    def _verify(self) -> tuple[bool, str]:
        shown = self.backend.helpers.exec(
            self.helper, {"command": "show", "marker": self.undo.marker}
        )
        rules = shown["rules"]
        in_place = len(rules) == len(self.plan["rules"])
        if self.plan.get("qdisc"):
            in_place = in_place and "netem" in shown["qdisc"]
        where = f"{len(rules)}/{len(self.plan['rules'])} rules in {self.target}'s namespace"
        if not in_place:
            return False, f"{self.mechanism}: only {where} (qdisc: {shown['qdisc']!r})"
        spec = self.spec
        if isinstance(spec, Latency):
            assert self.probe is not None
            now = self.probe.median_ms()
            added = now - self.probe.baseline_ms
            ok = added >= 0.5 * max(spec.delay_ms - spec.jitter_ms, 0.25 * spec.delay_ms)
            said = self.backend.helpers.output(self.helper)
            applied: dict[str, Any] = next((o["applied"] for o in said if "applied" in o), {})
            aborted = f"; {applied['reset']} open connections aborted" if "reset" in applied else ""
            return ok, (
                f"{self.mechanism}: requests to {self.target} measured {added:.0f} ms slower "
                f"(median {now:.0f} ms, {self.probe.baseline_ms:.0f} ms before; asked "
                f"{spec.delay_ms:g}±{spec.jitter_ms:g} ms){aborted}"
            )
        if isinstance(spec, Loss):
            return True, self._loss_evidence(spec)
        assert isinstance(spec, Partition) and self.peer_container is not None
        address = self.backend.address(self.peer_container)
        port = self.backend.port(spec.peer)
        tried = self.backend.helpers.exec(
            self.helper, {"command": "connect", "host": address, "port": port, "timeout_s": 1.5}
        )
        ok = tried["outcome"] == "timeout"
        return ok, (
            f"iptables DROP both ways between {self.target} and {spec.peer} ({address}); a "
            f"connection from {self.target} to {spec.peer}:{port}: {tried['outcome']} "
            f"after {tried['ms']:.0f} ms"
        )

    def _loss_evidence(self, spec: Loss) -> str:
        """A few fresh requests from the project's network, then the rule's drop counter:
        evidence, not proof (at a small percentage a short probe may lose nothing)."""
        target = self.backend.container(self.target)
        probe = {"command": "probe", "host": self.backend.address(target), "count": LOSS_PROBES,
                 "port": self.backend.port(self.target), "timeout_s": 2.0,
                 "kind": "redis" if self.target == "redis" else "http"}  # fmt: skip
        times = self.backend.helpers.probe(self.id, self.backend.network(target), probe)
        hurt = sum(1 for t in times if t is None or t >= SLOW_MS)
        shown = self.backend.helpers.exec(
            self.helper, {"command": "show", "marker": self.undo.marker}
        )
        dropped = sum(r["packets"] for r in shown["rules"])
        return (
            f"iptables statistic DROP of {spec.percent:g}% in place; {hurt}/{LOSS_PROBES} probe "
            f"requests failed or took {SLOW_MS} ms or more; {dropped} packets dropped so far"
        )

    def _revert(self) -> str:
        return self.undo.undo(self.backend)
