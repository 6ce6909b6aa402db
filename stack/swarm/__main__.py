"""`python -m stack.swarm up|down|render`: the stack on swarm (docker/swarm.sh builds the image
first). COMPOSE_PROJECT_NAME names the stack; docs/swarm.md lists the settings."""

import argparse
import sys

import yaml

from stack.swarm import deploy
from stack.swarm.cluster import SwarmError, say
from stack.swarm.interpolate import MissingVariable
from stack.swarm.publish import public_url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.swarm", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="deploy and wait until every replica is healthy")
    down = commands.add_parser("down", help="remove the stack (and the swarm up created)")
    down.add_argument("--volumes", action="store_true", help="drop the Redis volume too")
    commands.add_parser("render", help="print the stack file (secrets stay out of it)")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            rendered = deploy.up()
            for port in rendered.edge:
                label = "gateway:" if port.service == "gateway" else "Locust web UI:"
                print(f"{label:<15} {public_url(port)}")
            wide = sorted({p.address for p in rendered.edge} - {"127.0.0.1"})
            if wide:
                say(
                    f"published on {', '.join(wide)} (FAILWHALE_PUBLISH_ADDRESS): reachable "
                    "from other machines"
                )
        elif args.command == "down":
            deploy.down(volumes=args.volumes)
        else:
            print(yaml.safe_dump(deploy.preview(), sort_keys=False), end="")
    except (SwarmError, MissingVariable) as exc:
        say(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
