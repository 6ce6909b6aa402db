"""What each network fault installs in the target's namespace, as data for the agent: iptables
rules (table, -I/-A, chain, match and target, each with the fault's marker as comment), a root
qdisc, or the delay relay. Pure functions: the rules can be read and tested without a kernel."""

from typing import Any


def comment(marker: str) -> list[str]:
    return ["-m", "comment", "--comment", marker]


def latency_plan(
    port: int, delay_ms: float, jitter_ms: float, marker: str, netem: bool, relay_port: int
) -> dict[str, Any]:
    if netem:
        # netem delays everything the target sends, its answers included.
        jitter = [f"{jitter_ms:g}ms"] if jitter_ms else []
        return {"qdisc": ["netem", "delay", f"{delay_ms:g}ms", *jitter], "rules": []}
    relay = {
        "port": relay_port,
        "upstream_port": port,
        "delay_ms": delay_ms,
        "jitter_ms": jitter_ms,
    }
    tcp = ["-p", "tcp", "--dport", str(port)]
    return {
        "relay": relay,
        "rules": [
            # New connections to the service port go through the relay...
            [
                "nat",
                "-A",
                "PREROUTING",
                *tcp,
                *comment(marker),
                "-j",
                "REDIRECT",
                "--to-ports",
                str(relay_port),
            ],
            # ...and connections opened before the REDIRECT (conntrack keeps their path) are
            # reset, so that pooled keep-alive connections reconnect through it. Redirected
            # packets reach INPUT with the relay's port, and the relay's own connection to the
            # service comes over lo: neither matches.
            [
                "filter",
                "-I",
                "INPUT",
                "!",
                "-i",
                "lo",
                *tcp,
                *comment(marker),
                "-j",
                "REJECT",
                "--reject-with",
                "tcp-reset",
            ],
        ],
    }


def loss_plan(percent: float, marker: str) -> dict[str, Any]:
    probability = f"{percent / 100:.4f}"
    return {
        "rules": [
            [
                "filter",
                "-I",
                "INPUT",
                "!",
                "-i",
                "lo",
                "-m",
                "statistic",
                "--mode",
                "random",
                "--probability",
                probability,
                *comment(marker),
                "-j",
                "DROP",
            ],
        ]
    }


def partition_plan(peer_address: str, marker: str) -> dict[str, Any]:
    return {
        "rules": [
            # Nothing from the peer gets in: its connections and its answers time out.
            ["filter", "-I", "INPUT", "-s", peer_address, *comment(marker), "-j", "DROP"],
            # Nothing more goes out on connections already open (no request slips through
            # one way). New connections are left to time out on the peer's SYN-ACK: a DROP of
            # the target's own SYN would fail its connect at once (EPERM), unlike a partition.
            [
                "filter",
                "-I",
                "OUTPUT",
                "-d",
                peer_address,
                "-m",
                "conntrack",
                "--ctstate",
                "ESTABLISHED,RELATED",
                *comment(marker),
                "-j",
                "DROP",
            ],
        ]
    }
