"""The fault hook of a service in a container, called from inside the container (docker exec)
with the standard library: the hook listens on the service's internal listener, on the
container's loopback, which neither a published port nor the other containers reach."""

import json
from typing import Any

from docker.models.containers import Container

from chaos.backends.hook import HookError
from services.common.auth import SERVICE_HEADER

HOOK_CALL = """
import sys, urllib.error, urllib.request
method, body, header, token, port = sys.argv[1:6]
request = urllib.request.Request(
    f"http://127.0.0.1:{port}/internal/faults", method=method,
    data=None if body == "null" else body.encode(),
    headers={header: token, "content-type": "application/json"})
try:
    answer = urllib.request.urlopen(request, timeout=5)
    status, data = answer.status, answer.read()
except urllib.error.HTTPError as exc:
    status, data = exc.code, exc.read()
except urllib.error.URLError as exc:
    if not isinstance(exc.reason, ConnectionRefusedError):
        raise
    # Nothing listens on the internal port of a running service: its hook is off.
    status, data = 404, b'{"detail": "no internal listener: the fault hook is off"}'
print(status)
print(data.decode())
"""


def call_inside(
    container: Container, port: int, token: str, method: str, body: dict[str, Any] | None
) -> tuple[int, Any]:
    """(status, JSON body) of the hook's answer to `method` with `body`."""
    argv = [method, json.dumps(body), SERVICE_HEADER, token, str(port)]
    code, out = container.exec_run(["python3", "-c", HOOK_CALL, *argv])
    lines = out.decode(errors="replace").splitlines()
    if code or not lines:
        raise HookError(f"calling the fault hook of {container.name} failed: {out[-300:]!r}")
    try:
        return int(lines[0]), json.loads("\n".join(lines[1:]) or "null")
    except ValueError:
        return int(lines[0]), "\n".join(lines[1:])
