"""`failwhale chaos sweep --journal FILE`: the backend comes from the journal's origin through the
engine registry; a journal it cannot use (an engine no one registered, the earlier untyped
format with faults still listed) is a setup error (exit 2) that says why, not a traceback."""

import argparse
import json
from pathlib import Path

import pytest

from chaos import cli


def sweep(journal: Path) -> int:
    parser = argparse.ArgumentParser()
    cli.add_commands(parser.add_subparsers())
    args = parser.parse_args(["chaos", "sweep", "--journal", str(journal)])
    code: int = args.run(args)
    return code


def test_a_journal_of_an_engine_no_one_registered_is_a_setup_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "nomad-x.json"
    path.write_text(json.dumps({"format": 2, "origin": {"backend": "nomad", "scope": "x"}}))
    assert sweep(path) == 2
    assert "no backend 'nomad'" in capsys.readouterr().err


def test_a_journal_of_the_earlier_format_with_faults_left_is_refused_with_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "local.json"
    undo = {"action": "resume", "pid": 1, "starttime": 1}
    entry = {"id": "x", "kind": "pause", "target": "dms", "mechanism": "signal", "undo": undo,
             "state": "applied"}  # fmt: skip
    origin = {"backend": "local", "scope": str(tmp_path)}
    path.write_text(json.dumps({"origin": origin, "entries": [entry]}))
    assert sweep(path) == 2
    err = capsys.readouterr().err
    assert "earlier version" in err and "chaos sweep" in err


def test_a_missing_journal_file_is_a_setup_error(tmp_path: Path) -> None:
    assert sweep(tmp_path / "gone.json") == 2
