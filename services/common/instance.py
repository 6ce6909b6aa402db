"""What tells one replica of a service from the others: its host's name and its process id.

Replicas of one service share their settings, `service_name` included (an orchestrator gives
every task of a service the same environment), so anything that must be one replica's own (a
stream consumer, the holder of a lease) is named after the instance, not the service. In a
container the host's name is the container's, so a container restarted in place keeps its
instance name.
"""

import os
import socket


def instance_name(service: str) -> str:
    return f"{service}@{socket.gethostname()}:{os.getpid()}"
