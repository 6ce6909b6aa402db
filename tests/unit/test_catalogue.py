"""The scenario catalogue: every contract name is there, every file is a valid scenario named
after its file, with hypotheses a run can check."""

from chaos.scenario import catalogue, load_scenario

CONTRACT_NAMES = {
    "baseline", "timeline-replica-kill", "timeline-outage", "posts-outage", "dms-outage",
    "dms-slow", "trends-outage", "redis-pause", "gateway-timeline-partition",
    "flapping-timeline", "lossy-network", "attrition",
}  # fmt: skip


def test_the_catalogue_has_every_contract_scenario() -> None:
    assert set(catalogue()) >= CONTRACT_NAMES


def test_every_catalogue_file_is_a_valid_scenario_named_after_its_file() -> None:
    for name, path in catalogue().items():
        scenario = load_scenario(path)
        assert scenario.name == name
        assert scenario.hypotheses
        assert len(scenario.summary_line()) < 100, name


def test_every_scenario_but_the_baseline_breaks_something() -> None:
    for name, path in catalogue().items():
        assert bool(load_scenario(path).method) == (name != "baseline"), name


def test_attrition_takes_services_away_one_after_another() -> None:
    scenario = load_scenario(catalogue()["attrition"])
    starts = [fault.at_s for fault in scenario.method]
    assert starts == sorted(starts) and len(set(starts)) == len(starts) >= 4
    assert len({fault.end_s for fault in scenario.method}) == 1  # all come back together
