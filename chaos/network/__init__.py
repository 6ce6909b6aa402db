"""Network faults from inside a target's network namespace: the agent that a helper container
runs, and the delay relay it uses where the kernel has no netem."""

from pathlib import Path

HERE = Path(__file__).parent


def agent_source() -> str:
    """The agent as one script for `python3 -c`: the relay's source, then the agent's."""
    return (HERE / "delay_proxy.py").read_text() + "\n\n" + (HERE / "agent.py").read_text()
