"""A compose stack of the reliability suite's own: its own project name and free host ports, so
it never meets `make up` or the end-to-end tests' stacks; started from the images that are
already built (no build: a check must not retag the images other stacks run), always taken down
with its volume. FAILWHALE_APP_IMAGE runs the Python services from another image than
failwhale/app:latest (one built from a clean checkout, say, while the shared one is being
rebuilt)."""

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STACK = ROOT / "docker" / "stack.sh"
UP_TIMEOUT_S = 180
DOWN_TIMEOUT_S = 120
OFFLINE_FILES = "docker-compose.yml:docker-compose.offline.yml"
ONLINE_BASE = "python:3.11-slim-bookworm"


class ComposeError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ComposeProject:
    def __init__(self, project: str, scratch: Path) -> None:
        self.project = project
        self.gateway_port = free_port()
        self.locust_port = free_port()
        self.env = os.environ | {
            "COMPOSE_PROJECT_NAME": project,
            "FAILWHALE_GATEWAY_PORT": str(self.gateway_port),
            "FAILWHALE_LOCUST_PORT": str(self.locust_port),
            "FAILWHALE_UP_TIMEOUT": str(UP_TIMEOUT_S),
        }
        files = OFFLINE_FILES if _offline() else "docker-compose.yml"
        if _offline():
            self.env |= {"OFFLINE": "1"}
        self.env["COMPOSE_FILE"] = files
        if image := os.environ.get("FAILWHALE_APP_IMAGE"):
            override = scratch / "app-image.yml"
            override.write_text(_image_override(self._compose(), self.env, image))
            self.env["COMPOSE_FILE"] = f"{files}:{override}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def up(self) -> None:
        command = [*self._compose(), "up", "--detach", "--no-build", "--remove-orphans"]
        self._run(command, UP_TIMEOUT_S)
        self._run([str(STACK), "wait"], UP_TIMEOUT_S + 30)

    def down(self) -> None:
        # The stack is thrown away: no need to wait 10 s for each container to stop politely.
        self._run([str(STACK), "down", "--volumes", "--timeout", "2"], DOWN_TIMEOUT_S)

    def container_ids(self) -> set[str]:
        listed = subprocess.run(
            ["docker", "ps", "-aq", "--no-trunc", "--filter",
             f"label=com.docker.compose.project={self.project}"],
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        return set(listed.stdout.split())

    @staticmethod
    def _compose() -> list[str]:
        return ["docker-compose"] if shutil.which("docker-compose") else ["docker", "compose"]

    def _run(self, command: list[str], timeout_s: int) -> None:
        done = subprocess.run(
            command, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout_s
        )
        if done.returncode != 0:
            tail = (done.stdout + done.stderr)[-2000:]
            raise ComposeError(f"{' '.join(command[:3])} failed ({done.returncode}):\n{tail}")


def _offline() -> bool:
    """The offline images where OFFLINE says so, or where the public base image is absent (no
    pull here: that would wait for a registry that may not answer)."""
    chosen = os.environ.get("OFFLINE", "auto")
    if chosen in ("0", "1"):
        return chosen == "1"
    present = subprocess.run(
        ["docker", "image", "inspect", ONLINE_BASE], capture_output=True, timeout=30
    )
    return present.returncode != 0


def _image_override(compose: list[str], env: dict[str, str], image: str) -> str:
    listed = subprocess.run(
        [*compose, "config", "--services"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    services = [name for name in listed.stdout.split() if name != "redis"]
    lines = ["services:"] + [f"  {name}:\n    image: {json.dumps(image)}" for name in services]
    return "\n".join(lines) + "\n"
