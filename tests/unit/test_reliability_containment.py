"""Which docker events touched a container outside the compose project (reliability check 10)."""

import json

from reliability.docker_events import ContainerEvent, parse_event, trespasses, unowned

PROJECT = "failwhale-rel"
OURS, DECOY, NEIGHBOUR = "a" * 64, "b" * 64, "c" * 64


def event(action: str, container: str, **labels: str) -> ContainerEvent:
    return ContainerEvent(action, container, f"name-{container[:4]}", labels, 0.0)


def test_a_docker_events_line_becomes_an_event_with_its_labels() -> None:
    line = json.dumps(
        {
            "Type": "container",
            "Action": "pause",
            "Actor": {"ID": OURS, "Attributes": {"name": "x", "com.docker.compose.project": "p"}},
            "timeNano": 1_500_000_000,
        }
    )
    parsed = parse_event(line)
    assert parsed is not None
    assert (parsed.action, parsed.container, parsed.name, parsed.time) == ("pause", OURS, "x", 1.5)
    assert parsed.labels["com.docker.compose.project"] == "p"


def test_lines_that_are_not_container_events_are_skipped() -> None:
    assert parse_event("not json") is None
    assert parse_event(json.dumps({"Type": "network", "Action": "connect"})) is None


def test_containers_of_a_compose_project_or_a_chaos_run_are_owned() -> None:
    assert unowned({"name": "plain"})
    assert not unowned({"com.docker.compose.project": "other"})
    assert not unowned({"failwhale.chaos.project": "other"})


def test_events_on_guarded_containers_and_helpers_aimed_outside_are_trespasses() -> None:
    seen = trespasses(
        [
            event("kill", OURS, **{"com.docker.compose.project": PROJECT}),
            event("unpause", DECOY),
            event("exec_create", NEIGHBOUR, **{"com.docker.compose.project": "failwhale-e2e"}),
        ],
        helper_targets={"h1": OURS, "h2": DECOY, "h3": "", "h4": "network:bridge"},
        guarded={DECOY},
        project_ids={OURS},
        project=PROJECT,
    )
    assert [e.action for e in seen.on_guarded] == ["unpause"]
    assert seen.helpers_outside == [f"h2 joined {DECOY}", "h4 joined network:bridge"]
    assert seen.helpers_unseen == 1
    assert seen.neighbours == 1
    assert seen.count == 3


def test_a_run_that_stays_in_its_project_trespasses_nowhere() -> None:
    seen = trespasses(
        [event("pause", OURS), event("die", "d" * 64, **{"failwhale.chaos.project": PROJECT})],
        helper_targets={
            "h1": OURS,
            "h2": f"network:{PROJECT}_default",
            "h3": "network:",
            "h4": "network:none",
        },
        guarded={DECOY},
        project_ids={OURS},
        project=PROJECT,
    )
    assert seen.count == 0 and seen.neighbours == 0
