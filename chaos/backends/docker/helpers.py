"""Helper containers of the docker backend: they join a target's network namespace (NET_ADMIN)
and run the network agent, so the service images need no tools. Every helper carries our labels
(and the compose project in one of them), so a sweep finds them and nothing else."""

import contextlib
import json
import os
import time
from typing import Any

from docker.client import DockerClient
from docker.errors import APIError, NotFound
from docker.models.containers import Container

from chaos.network import agent_source

HELPER_LABEL = "failwhale.chaos.helper"
PROJECT_LABEL = "failwhale.chaos.project"
FAULT_LABEL = "failwhale.chaos.fault"
HELPER_IMAGE = os.environ.get("FAILWHALE_CHAOS_HELPER_IMAGE", "failwhale/chaos-helper:latest")
MARKER_PREFIX = "failwhale-chaos"
READY_TIMEOUT_S = 20.0


class HelperError(RuntimeError):
    pass


class Helpers:
    def __init__(self, client: DockerClient, project: str, image: str = HELPER_IMAGE):
        self.client = client
        self.project = project
        self.image = image
        self._source = agent_source()

    def labels(self, fault: str) -> dict[str, str]:
        return {HELPER_LABEL: "1", PROJECT_LABEL: self.project, FAULT_LABEL: fault}

    def image_missing(self) -> str | None:
        try:
            self.client.images.get(self.image)
        except NotFound:
            return f"the helper image {self.image} is missing: build it with `make images`"
        return None

    def agent_command(self, spec: dict[str, Any]) -> list[str]:
        return ["python3", "-c", self._source, json.dumps(spec)]

    def hold(self, name: str, fault: str, netns: Container, spec: dict[str, Any]) -> Container:
        """Start a helper that holds a network fault in `netns`'s namespace until its duration
        runs out or it is stopped; returns once the fault is in place (HelperError if not)."""
        helper = self.client.containers.run(
            self.image,
            self.agent_command({"command": "hold", **spec}),
            name=name,
            detach=True,
            network_mode=f"container:{netns.id}",
            cap_add=["NET_ADMIN"],
            labels=self.labels(fault),
        )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            lines = self.output(helper)
            if any("applied" in line for line in lines):
                return helper
            errors = [line["error"] for line in lines if "error" in line]
            helper.reload()
            if errors or helper.status in ("exited", "dead"):
                self.remove(helper)
                raise HelperError(errors[0] if errors else f"helper exited: {lines}")
            time.sleep(0.1)
        self.remove(helper)
        raise HelperError(f"helper {name} did not apply the fault within {READY_TIMEOUT_S:.0f} s")

    def release(self, helper_name: str) -> dict[str, Any] | None:
        """Stop a holding helper (it undoes its fault on SIGTERM) and remove it; returns its
        `reverted` report, or None when it left none (gone, killed)."""
        try:
            helper = self.client.containers.get(helper_name)
        except NotFound:
            return None
        # An exited helper already reverted by itself when its duration ran out.
        with contextlib.suppress(APIError):
            helper.stop(timeout=10)
        reverted = next((line for line in self.output(helper) if "reverted" in line), None)
        self.remove(helper)
        return reverted

    def once(self, fault: str, netns: Container, spec: dict[str, Any], pid_ns: bool = False) -> Any:
        """Run one agent command in `netns`'s namespace in a short-lived helper."""
        out = self.client.containers.run(
            self.image,
            self.agent_command(spec),
            remove=True,
            network_mode=f"container:{netns.id}",
            pid_mode=f"container:{netns.id}" if pid_ns else None,
            cap_add=["NET_ADMIN"],
            labels=self.labels(fault),
        )
        return _last_json(out.decode())

    def probe(self, fault: str, network: str, spec: dict[str, Any]) -> Any:
        """Run one agent command in a short-lived helper on the project's network."""
        out = self.client.containers.run(
            self.image,
            self.agent_command(spec),
            remove=True,
            network=network,
            labels=self.labels(fault),
        )
        return _last_json(out.decode())

    def exec(self, helper: Container, spec: dict[str, Any]) -> Any:
        """Run one agent command in a running helper (cheaper than a new container)."""
        code, out = helper.exec_run(self.agent_command(spec))
        if code:
            raise HelperError(f"agent {spec['command']} failed ({code}): {out.decode()[-500:]}")
        return _last_json(out.decode())

    def prober(self, name: str, fault: str, network: str, lifetime_s: float) -> Container:
        """A helper on the project's network, outside every service's namespace: it sees a
        service the way its peers do (through the NAT rules of the service's namespace)."""
        return self.client.containers.run(
            self.image,
            ["sleep", str(int(lifetime_s) + 1)],
            name=name,
            detach=True,
            network=network,
            labels=self.labels(fault),
        )

    def output(self, helper: Container) -> list[dict[str, Any]]:
        lines = []
        for line in helper.logs().decode(errors="replace").splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
        return [line for line in lines if isinstance(line, dict)]

    def remove(self, helper: Container | str) -> None:
        try:
            found = self.client.containers.get(helper) if isinstance(helper, str) else helper
            found.remove(force=True)
        except NotFound:
            pass
        except APIError as exc:
            # Another revert (the dead-man timer, a sweep) is removing it already: gone soon.
            if exc.status_code != 409 or "already in progress" not in str(exc):
                raise

    def leftovers(self) -> list[Container]:
        """Every helper of this project, running or not."""
        labels = [f"{HELPER_LABEL}=1", f"{PROJECT_LABEL}={self.project}"]
        found: list[Container] = self.client.containers.list(all=True, filters={"label": labels})
        return found


def _last_json(text: str) -> Any:
    for line in reversed(text.splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    raise HelperError(f"no answer from the agent: {text[-500:]}")
