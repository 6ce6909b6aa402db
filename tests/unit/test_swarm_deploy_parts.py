"""Pieces of the swarm deploy that need no engine: the endpoint mode chosen from IPVS or the
setting, the wait's verdict from service states, a secret read from FAILWHALE_<NAME>_FILE."""

from pathlib import Path

import pytest

from failwhale import cli
from services.common.settings import ServiceSettings, UnsafeSecrets, settings_from_environment
from stack.swarm import endpoint
from stack.swarm.cluster import SwarmError, SwarmRecord
from stack.swarm.readiness import ServiceState, parse_replicas, wait_ready


def test_ipvs_is_detected_from_proc_or_the_loaded_module(tmp_path: Path) -> None:
    proc, modules = tmp_path / "proc", tmp_path / "sys"
    (proc / "net").mkdir(parents=True)
    modules.mkdir()
    (proc / "net" / "ip_vs").write_text("")
    assert endpoint.kernel_has_ipvs(proc, modules)
    (proc / "net" / "ip_vs").unlink()
    (modules / "ip_vs").mkdir()
    assert endpoint.kernel_has_ipvs(proc, modules)


def test_the_setting_overrides_detection_and_bad_values_are_refused() -> None:
    assert endpoint.choose("vip")[0] == "vip"
    assert endpoint.choose("dnsrr")[0] == "dnsrr"
    assert endpoint.choose("auto")[0] == ("vip" if endpoint.kernel_has_ipvs() else "dnsrr")
    with pytest.raises(ValueError, match="auto, vip or dnsrr"):
        endpoint.choose("ipvs")


def test_replicas_column_parses_with_the_stack_prefix_removed() -> None:
    assert parse_replicas("fw_timeline 1/2", "fw") == ServiceState("timeline", 1, 2)
    assert parse_replicas("fw_locust 1/1 (max 1 per node)", "fw").ready
    assert not ServiceState("dms", 0, 0).ready


def test_the_wait_returns_when_every_service_is_ready() -> None:
    rounds = iter([[ServiceState("timeline", 1, 2)], [ServiceState("timeline", 2, 2)]])
    waited = wait_ready(
        "fw",
        {"timeline"},
        10,
        lambda _: None,
        states=lambda _: next(rounds),
        settle_s=0,
        interval_s=0,
    )
    assert waited < 10


def test_the_wait_names_the_stuck_service_at_the_deadline() -> None:
    with pytest.raises(SwarmError, match=r"not ready after 0 s: timeline 1/2, users absent"):
        wait_ready(
            "fw-absent-stack",
            {"timeline", "users", "dms"},
            0,
            lambda _: None,
            states=lambda _: [ServiceState("timeline", 1, 2), ServiceState("dms", 1, 1)],
        )


def test_a_secret_comes_from_the_file_its_variable_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = tmp_path / "token"
    token.write_text("t" * 40 + "\n")
    monkeypatch.setenv("FAILWHALE_TOKEN_SECRET_FILE", str(token))
    monkeypatch.setenv("FAILWHALE_INTERNAL_SECRET", "i" * 40)
    monkeypatch.delenv("FAILWHALE_TOKEN_SECRET", raising=False)
    settings = settings_from_environment(ServiceSettings)
    assert settings.token_secret == "t" * 40
    assert "t" * 40 not in repr(settings)


def test_a_secret_file_that_cannot_be_read_stops_the_service_with_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAILWHALE_REDIS_URL_FILE", str(tmp_path / "absent"))
    with pytest.raises(SystemExit, match=r"FAILWHALE_REDIS_URL_FILE=.*cannot be read"):
        settings_from_environment(ServiceSettings)
    with pytest.raises(UnsafeSecrets):
        ServiceSettings()


def test_a_file_is_ignored_for_a_setting_that_is_not_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    level = tmp_path / "level"
    level.write_text("DEBUG")
    monkeypatch.setenv("FAILWHALE_LOG_LEVEL_FILE", str(level))
    assert ServiceSettings().log_level == "INFO"


def test_the_record_of_a_created_swarm_survives_until_forgotten(tmp_path: Path) -> None:
    record = SwarmRecord(tmp_path / "swarm" / "fw.json")
    assert record.created() is None
    record.remember("node-1")
    assert SwarmRecord(record.path).created() == "node-1"
    record.forget()
    assert record.created() is None


@pytest.mark.parametrize("command", ["up", "down"])
def test_failwhale_backend_swarm_runs_the_make_target_with_backend_swarm(
    command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []

    def call(args: list[str]) -> int:
        calls.append(args)
        return 0

    monkeypatch.setattr("failwhale.cli.subprocess.call", call)
    assert cli.main([command, "--backend", "swarm"]) == 0
    assert calls == [["make", "-C", str(cli.REPO), command, "BACKEND=swarm"]]
