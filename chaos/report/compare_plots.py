"""The plot of a comparison: the same scenario with resilience on and off, overlaid on one time
axis (useful answers per second, p99 latency, error rate), fault windows shaded."""

import math

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from chaos.observation import Observation
from chaos.report.plots import (
    DPI,
    LEFT,
    LEGEND_X,
    RIGHT,
    WIDTH,
    ms_label,
    shade_faults,
)
from chaos.report.seconds import per_second

RUN_COLORS = {"on": "#1565c0", "off": "#ef6c00"}


def overlay(on: Observation, off: Observation) -> Figure:
    fig = Figure(figsize=(WIDTH, 7.5), dpi=DPI)
    fig.subplots_adjust(left=LEFT, right=RIGHT, bottom=0.07, top=0.93, hspace=0.35)
    axes = fig.subplots(3, 1, sharex=True)
    fig.suptitle(f"{on.scenario}: resilience on and off under the same fault and load",
                 x=LEFT, ha="left", fontsize=11)  # fmt: skip
    highest_latency, lowest_latency = 0.0, math.inf
    for label, obs in (("on", on), ("off", off)):
        s = per_second(obs)
        color = RUN_COLORS[label]
        useful = [o + d for o, d in zip(s.ok, s.degraded, strict=True)]
        axes[0].plot(s.t, useful, drawstyle="steps-post", color=color, lw=1.5,
                     label=f"resilience {label}")  # fmt: skip
        axes[1].plot(s.t, s.p99, drawstyle="steps-post", color=color, lw=1.5)
        axes[2].plot(s.t, s.rate(s.errors), drawstyle="steps-post", color=color, lw=1.5)
        finite = [v for v in s.p99 if not math.isnan(v) and v > 0]
        if finite:
            highest_latency = max(highest_latency, max(finite))
            lowest_latency = min(lowest_latency, min(finite))
    axes[0].set_title("answers per second that were not errors (ok or degraded)", fontsize=9,
                      loc="left")  # fmt: skip
    axes[1].set_title("p99 latency per second", fontsize=9, loc="left")
    axes[2].set_title("error rate per second", fontsize=9, loc="left")
    axes[0].set_ylim(bottom=0, top=max(axes[0].get_ylim()[1], 1) * 1.25)
    if highest_latency and highest_latency / lowest_latency > 30:
        axes[1].set_yscale("log")
        axes[1].set_ylim(lowest_latency / 1.5, highest_latency * 8)
    axes[1].yaxis.set_major_formatter(FuncFormatter(lambda v, _: ms_label(v)))
    axes[2].set_ylim(0, 1.05)
    axes[2].yaxis.set_major_formatter(PercentFormatter(1.0))
    for ax in axes:
        ax.set_xlim(0, max(on.duration_s, off.duration_s, 1.0))
        ax.grid(True, alpha=0.3)
        shade_faults(ax, on, labels=ax is axes[0])
    axes[2].set_xlabel("seconds since the start of the run")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="upper left", fontsize=9,
               frameon=False, bbox_to_anchor=(LEGEND_X, 0.93))  # fmt: skip
    return fig
