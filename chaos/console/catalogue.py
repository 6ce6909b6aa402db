"""The scenario catalogue as the console shows it: each scenario of chaos/scenarios with its load,
faults and hypotheses, and whether this stack can run it (`runnable`), else why not (`refusal`):
the resilience setting its hypotheses are written for when the stack runs the other, the
backend's own `check` of each fault, or a self-healing setting that only an orchestrator has."""

from typing import Any

from chaos.backends.base import Backend
from chaos.console.stack_view import StackView
from chaos.scenario import Scenario, ScenarioError, catalogue, load_scenario
from services.common.errors import Unprocessable


def scenario_named(name: str) -> Scenario:
    """A scenario of the catalogue (never a path: the console runs only what ships)."""
    path = catalogue().get(name)
    if path is None:
        raise Unprocessable(f"no scenario {name!r} in the catalogue")
    try:
        return load_scenario(path)
    except ScenarioError as exc:
        raise Unprocessable(str(exc)) from exc


def refusal(scenario: Scenario, backend: Backend, view: StackView) -> str | None:
    """Why this stack cannot run the scenario, said plainly; None when it can."""
    needed = scenario.resilience
    if needed is not None and (mode := view.resilience()) is not None and mode != needed:
        return (
            f"written for resilience {needed}, and this stack runs with resilience {mode}: its "
            f"hypotheses would fail by design. Restart the stack with FAILWHALE_RESILIENCE="
            f"{needed} (make up), or see both settings side by side with "
            f"`failwhale chaos compare {scenario.name}`"
        )
    if scenario.self_healing is not None and not view.orchestrator():
        return (
            f"needs self-healing {scenario.self_healing}, which only an orchestrator has: "
            "run it on the swarm stack (make up BACKEND=swarm)"
        )
    reasons = [
        f"{spec.fault} on {spec.target}: {reason}"
        for spec in scenario.method
        if (reason := backend.check(spec)) is not None
    ]
    return "; ".join(reasons) or None


def describe(scenario: Scenario, refused: str | None) -> dict[str, Any]:
    load = scenario.load
    hidden = {"fault", "target", "at_s", "duration_s"}
    return {
        "name": scenario.name,
        "description": scenario.description.strip(),
        "load": {"users": load.users, "rate": load.rate, "duration_s": load.duration_s},
        "faults": [
            {
                "fault": spec.fault,
                "target": spec.target,
                "at_s": spec.at_s,
                "duration_s": spec.duration_s,
                "params": spec.model_dump(mode="json", exclude=hidden, exclude_none=True),
            }
            for spec in scenario.method
        ],
        "hypotheses": [
            {"metric": h.metric, "phase": h.phase, "min": h.min, "max": h.max, "name": h.label}
            for h in scenario.hypotheses
        ],
        "self_healing": scenario.self_healing,
        "resilience": scenario.resilience,
        "runnable": refused is None,
        "refusal": refused,
    }


def listing(backend: Backend, view: StackView) -> list[dict[str, Any]]:
    out = []
    for name, path in catalogue().items():
        try:
            scenario = load_scenario(path)
        except ScenarioError as exc:  # shipped broken: listed, never run
            out.append(_broken(name, str(exc)))
            continue
        out.append(describe(scenario, refusal(scenario, backend, view)))
    return out


def _broken(name: str, error: str) -> dict[str, Any]:
    refused = f"the scenario file is invalid: {error}"
    return {
        "name": name, "description": "", "load": None, "faults": [], "hypotheses": [],
        "self_healing": None, "resilience": None, "runnable": False, "refusal": refused,
    }  # fmt: skip


def runnable(name: str, backend: Backend, view: StackView) -> Scenario:
    """The scenario to run, or 422 with its refusal."""
    scenario = scenario_named(name)
    if (refused := refusal(scenario, backend, view)) is not None:
        raise Unprocessable(f"{name} cannot run on this stack: {refused}")
    return scenario
