"""What each network fault installs in the target's namespace, as data for the agent: iptables
rules (table, -I/-A, chain, match and target, each with the fault's marker as comment), a root
qdisc, or the delay relay. Pure functions: the rules can be read and tested without a kernel."""

from typing import Any


def rule(table: str, op: str, chain: str, *spec: str, marker: str) -> list[str]:
    """One iptables rule; the comment goes before the target (`-j`), where iptables lists it."""
    at = spec.index("-j")
    return [table, op, chain, *spec[:at], "-m", "comment", "--comment", marker, *spec[at:]]


def latency_plan(
    port: int, delay_ms: float, jitter_ms: float, marker: str, netem: bool, relay_port: int
) -> dict[str, Any]:
    if netem:
        # netem delays everything the target sends, its answers included.
        jitter = [f"{jitter_ms:g}ms"] if jitter_ms else []
        return {"qdisc": ["netem", "delay", f"{delay_ms:g}ms", *jitter], "rules": []}
    tcp = ("-p", "tcp", "--dport", str(port))
    return {
        "relay": {
            "port": relay_port,
            "upstream_port": port,
            "delay_ms": delay_ms,
            "jitter_ms": jitter_ms,
        },
        # Connections opened before the REDIRECT keep their path (conntrack): the agent aborts
        # them once the rules are in, so that client pools reconnect through the relay.
        "reset_port": port,
        "rules": [
            # New connections to the service port go through the relay...
            rule("nat", "-A", "PREROUTING", *tcp, "-j", "REDIRECT", "--to-ports",
                 str(relay_port), marker=marker),
            # ...and a connection that escaped the abort is reset at its next packet. Redirected
            # packets reach INPUT with the relay's port, and the relay's own connections to the
            # service come over lo: neither matches.
            rule("filter", "-I", "INPUT", "!", "-i", "lo", *tcp, "-j", "REJECT",
                 "--reject-with", "tcp-reset", marker=marker),
        ],
    }  # fmt: skip


def loss_plan(percent: float, marker: str) -> dict[str, Any]:
    probability = f"{percent / 100:.4f}"
    drop = ("-m", "statistic", "--mode", "random", "--probability", probability, "-j", "DROP")
    # Only what comes in over the network: the container's own traffic over lo stays whole.
    return {"rules": [rule("filter", "-I", "INPUT", "!", "-i", "lo", *drop, marker=marker)]}


def partition_plan(peer_address: str, marker: str) -> dict[str, Any]:
    return {
        "rules": [
            # Nothing from the peer gets in: its connections and its answers time out.
            rule("filter", "-I", "INPUT", "-s", peer_address, "-j", "DROP", marker=marker),
            # Nothing more goes out on connections already open (no request slips through one
            # way). New connections are left to time out on the peer's SYN-ACK: a DROP of the
            # target's own SYN would fail its connect at once (EPERM), unlike a partition.
            rule("filter", "-I", "OUTPUT", "-d", peer_address, "-m", "conntrack", "--ctstate",
                 "ESTABLISHED,RELATED", "-j", "DROP", marker=marker),
        ]
    }  # fmt: skip
