"""A judged run: the scenario, what was observed, the verdict and the contract summary together,
which is everything a report is drawn from."""

from dataclasses import dataclass, field

from chaos.observation import Observation
from chaos.report.plots import render_plots
from chaos.report.summary import Summary, build_summary
from chaos.scenario import Scenario
from chaos.verdict import Judgement, judge


@dataclass(frozen=True)
class RunResult:
    scenario: Scenario
    obs: Observation
    judgement: Judgement
    summary: Summary
    plots: dict[str, bytes] = field(default_factory=dict)  # PNG bytes by plot name

    @classmethod
    def of(cls, scenario: Scenario, obs: Observation, plots: bool = True) -> "RunResult":
        judgement = judge(scenario, obs)
        return cls(
            scenario,
            obs,
            judgement,
            build_summary(obs, judgement),
            render_plots(obs) if plots else {},
        )
