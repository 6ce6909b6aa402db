"""The Chirp load's own Locust options (beside Locust's: `--accounts`, `--rate`, ...), and the
settings of one run read from them."""

from dataclasses import dataclass
from typing import Any

RUN_OPTION = "failwhale_run"  # the master's run id, handed to workers with the run's options


@dataclass(frozen=True)
class Settings:
    accounts_file: str = ""
    rate: float = 0.0
    open_loop_users: int | None = None
    think_time: float = 1.0
    history_file: str = ""
    report_file: str = ""
    audit_timeout_s: float = 30.0
    headless: bool = False
    autoquit: bool = False

    @property
    def audit_wait_s(self) -> float:
        """The longest an audit takes: outboxes, then reads, each up to the audit timeout."""
        return 2 * self.audit_timeout_s + 15

    @classmethod
    def of(cls, options: Any) -> "Settings":
        autoquit = getattr(options, "autoquit", None)  # seconds; Locust's -1 is never
        return cls(
            accounts_file=getattr(options, "accounts", "") or "",
            rate=float(getattr(options, "rate", 0) or 0),
            open_loop_users=getattr(options, "open_loop_users", None),
            think_time=float(getattr(options, "think_time", 1.0)),
            history_file=getattr(options, "history_file", "") or "",
            report_file=getattr(options, "oracle_report", "") or "",
            audit_timeout_s=float(getattr(options, "audit_timeout", 30.0)),
            headless=bool(getattr(options, "headless", False)),
            autoquit=bool(getattr(options, "autostart", False))
            and autoquit is not None
            and int(autoquit) >= 0,
        )


def add_options(parser: Any) -> None:
    """Locust options of the Chirp load (also LOCUST_* variables and config files)."""
    for flag, kind, default, in_ui, text in (
        ("--accounts", str, "", True, "seed file of `failwhale seed` (empty: sign up)"),
        ("--rate", float, 0.0, True, "open loop: user actions/s for the run (0: closed loop)"),
        ("--think-time", float, 1.0, True, "closed loop: mean seconds between user actions"),
        ("--history-file", str, "", False, "write the operation history here (JSON lines)"),
        ("--oracle-report", str, "", False, "write the oracles' report here (JSON)"),
        ("--audit-timeout", float, 30.0, False, "seconds the audit waits for outboxes, and reads"),
    ):
        env_var = "LOCUST_" + flag.removeprefix("--").replace("-", "_").upper()
        parser.add_argument(
            flag, type=kind, default=default, env_var=env_var, include_in_web_ui=in_ui, help=text
        )
