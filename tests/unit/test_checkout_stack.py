"""bench.ab's stacks of another checkout: their services import that checkout's code, not the
code of the directory the benchmark runs from (uvicorn puts its app directory first on
sys.path, and it defaults to the current one)."""

import subprocess
import sys
from pathlib import Path

import pytest

from bench.seeded import CheckoutStack


def test_a_checkout_stacks_services_import_the_checkouts_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "services" / "gateway").mkdir(parents=True)
    (checkout / "services" / "__init__.py").write_text("")
    (checkout / "services" / "gateway" / "__init__.py").write_text("")
    (checkout / "services" / "gateway" / "app.py").write_text("WHOSE = 'the checkout'\n")
    stack = CheckoutStack(checkout, tmp_path / "stack", {})
    spawned: list[tuple[list[str], dict[str, str]]] = []
    monkeypatch.setattr(stack, "_spawn", lambda name, command, env: spawned.append((command, env)))
    stack.start_service("gateway")
    [(command, env)] = spawned
    # Where uvicorn, started so from this repository, finds the app's module.
    options = command[command.index("uvicorn") + 1 :]
    app_dir = options[options.index("--app-dir") + 1] if "--app-dir" in options else ""
    probe = (
        f"import sys; sys.path.insert(0, {app_dir!r}); "
        "import services.gateway.app as app; print(app.__file__)"
    )
    found = subprocess.run(
        [sys.executable, "-P", "-c", probe],
        env={"PYTHONPATH": env["PYTHONPATH"]},
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(found) == checkout / "services" / "gateway" / "app.py"
