"""The front door as a new user meets it: `make up` without a working Docker engine names the
missing piece in its first lines, before any virtualenv, with the commands that fix it; the
OFFLINE=auto probe gives up a registry that does not answer within its bound; a .venv that cannot
serve is rebuilt. The real scripts run, in a copy of the files they use, under controlled
environments: a PATH without docker, a DOCKER_HOST nobody serves, an unprivileged user against
the real socket."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FRONT_DOOR = (
    "Makefile",
    "pyproject.toml",
    "requirements",
    "docker",
    "docker-compose.yml",
    "docker-compose.offline.yml",
    "failwhale/__init__.py",
    "stack/env_secrets.py",
)
NOBODY = "nobody"


@pytest.fixture
def checkout() -> Iterator[Path]:
    """The front door's files in a directory every user may read (for runs as `nobody`)."""
    path = Path(tempfile.mkdtemp(prefix="fw-front-door-"))
    path.chmod(0o755)
    try:
        for name in FRONT_DOOR:
            source, target = ROOT / name, path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target)
            else:
                shutil.copy2(source, target)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def no_docker_path() -> Iterator[str]:
    """A PATH with every command of the system's bin directories except Docker's."""
    bin_dir = Path(tempfile.mkdtemp(prefix="fw-no-docker-"))
    bin_dir.chmod(0o755)
    for folder in ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"):
        for entry in Path(folder).iterdir() if Path(folder).is_dir() else []:
            link = bin_dir / entry.name
            if not entry.name.startswith("docker") and not link.exists():
                link.symlink_to(entry)
    try:
        yield str(bin_dir)
    finally:
        shutil.rmtree(bin_dir, ignore_errors=True)


def run(command: list[str], cwd: Path, user: str | None = None, **env: str) -> tuple[int, str]:
    """Exit code and stderr+stdout of `command`, as `user` (runuser) when given."""
    if user is not None:
        if os.geteuid() != 0:
            pytest.skip("running as another user needs root")
        command = ["runuser", "-u", user, "--", *command]
    environment = {"PATH": os.environ["PATH"], "HOME": "/tmp", "LANG": "C.UTF-8"} | env
    done = subprocess.run(
        command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=120
    )
    return done.returncode, done.stderr + done.stdout


def test_make_up_without_a_docker_client_says_so_first_and_installs_nothing(
    checkout: Path, no_docker_path: str
) -> None:
    code, output = run(["make", "up"], checkout, PATH=no_docker_path, FAILWHALE_INSTALL="0")
    assert code == 2, output
    lines = output.splitlines()
    assert lines[0] == "[engine] Docker is not installed: no docker command on PATH", output
    assert "apt-get install -y --no-install-recommends docker.io docker-compose" in output
    assert "start the daemon: " in output
    assert not (checkout / ".venv").exists(), "the venv was built before the engine check"
    assert "docker pull" not in output and "debootstrap" not in output


def test_a_user_without_root_gets_the_commands_with_sudo(
    checkout: Path, no_docker_path: str
) -> None:
    code, output = run(["docker/engine.sh"], checkout, user=NOBODY, PATH=no_docker_path)
    assert code == 2, output
    assert output.startswith("[engine] Docker is not installed"), output
    assert "sudo apt-get install -y --no-install-recommends docker.io docker-compose" in output
    assert "sudo " in output.splitlines()[-1]


def test_a_daemon_that_does_not_answer_is_named_and_never_started(
    checkout: Path, tmp_path: Path
) -> None:
    host = f"unix://{tmp_path / 'nobody-serves.sock'}"
    code, output = run(["make", "up"], checkout, DOCKER_HOST=host)
    assert code == 2, output
    assert output.splitlines()[0] == f"[engine] no Docker daemon answers at DOCKER_HOST={host}"
    assert not (checkout / ".venv").exists()


def test_a_user_who_may_not_use_the_socket_is_told_how_to_join_the_group(checkout: Path) -> None:
    assert Path("/var/run/docker.sock").exists(), "no Docker daemon socket: the engine is needed"
    code, output = run(["docker/engine.sh"], checkout, user=NOBODY)
    assert code == 2, output
    assert output.splitlines()[0] == (
        f"[engine] the Docker daemon runs, but {NOBODY} may not use its socket (permission denied)"
    )
    assert f"sudo usermod -aG docker {NOBODY}" in output


@pytest.fixture
def silent_registry() -> Iterator[int]:
    """A TCP port that accepts connections and never answers: a registry that hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()


def test_offline_auto_gives_up_a_registry_that_does_not_answer_within_its_bound(
    checkout: Path, silent_registry: int
) -> None:
    image = f"127.0.0.1:{silent_registry}/failwhale-probe:never"
    code, output = run(
        ["docker/stack.sh", "mode"], checkout, OFFLINE="auto", FAILWHALE_BASE_IMAGE=image,
        FAILWHALE_REDIS_IMAGE=image, FAILWHALE_REGISTRY_ANSWER_TIMEOUT="2",
    )  # fmt: skip
    assert code == 0, output
    assert "[stack] no answer from the registry within 2 s" in output
    assert "[stack] OFFLINE=auto: using the offline path" in output
    assert output.rstrip().endswith("1")


def make_plan(checkout: Path, **env: str) -> str:
    """What `make venv` would do (make -n)."""
    code, output = run(["make", "-n", "venv"], checkout, **env)
    assert code == 0, output
    return output


def fresh_stamps(checkout: Path) -> None:
    for stamp in (".installed-tools", ".installed-load", ".installed-dev"):
        (checkout / ".venv" / stamp).touch()


def test_a_venv_without_pip_is_rebuilt_and_a_sound_one_reused(checkout: Path) -> None:
    venv = checkout / ".venv"
    subprocess.run(["python3", "-m", "venv", "--without-pip", str(venv)], check=True)
    fresh_stamps(checkout)
    assert "pip install" in make_plan(checkout)
    shutil.rmtree(venv)
    subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
    fresh_stamps(checkout)
    assert "Nothing to be done for 'venv'" in make_plan(checkout)
    (venv / "bin" / "python").unlink()
    assert "pip install" in make_plan(checkout)


def minor_version(python: str) -> str:
    done = subprocess.run(
        [python, "-c", "import sys; print(sys.version_info[1])"], capture_output=True, text=True
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def other_python() -> str | None:
    """An interpreter that runs and is of another minor version than python3, if there is one."""
    mine = minor_version("python3")
    candidates = [shutil.which(f"python3.{minor}") for minor in range(8, 16)]
    candidates += [str(p) for p in Path("/usr/bin").glob("python3.*") if p.name[8:].isdigit()]
    candidates += [str(p) for p in Path.home().glob(".pyenv/versions/3.*/bin/python3")]
    for found in filter(None, candidates):
        if minor_version(found) not in ("", mine):
            return found
    return None


def test_a_venv_of_another_python_than_PYTHON_is_rebuilt(checkout: Path) -> None:
    other = other_python()
    if other is None:
        pytest.skip("no interpreter of another Python version on this system")
    subprocess.run(["python3", "-m", "venv", str(checkout / ".venv")], check=True)
    fresh_stamps(checkout)
    assert "Nothing to be done for 'venv'" in make_plan(checkout)
    plan = make_plan(checkout, PYTHON=other)
    assert "pip install" in plan and f"{other} -m venv" in plan


@pytest.fixture
def bare_path(no_docker_path: str) -> str:
    """The PATH without Docker, and without redis-server, redis-cli and wrk either."""
    for name in ("redis-server", "redis-cli", "wrk"):
        (Path(no_docker_path) / name).unlink(missing_ok=True)
    return no_docker_path


def test_missing_packages_are_named_with_the_command_that_installs_them(
    checkout: Path, bare_path: str
) -> None:
    code, output = run(
        ["docker/prerequisites.sh", "local", "bench"], checkout, PATH=bare_path,
        FAILWHALE_INSTALL="0",
    )  # fmt: skip
    assert code == 2, output
    assert output.splitlines() == [
        "[prerequisites] missing: redis-server redis-tools wrk",
        "[prerequisites] install them with: "
        "apt-get install -y --no-install-recommends redis-server redis-tools wrk",
    ]


def test_tests_that_need_a_missing_tool_stop_the_session_in_one_line(bare_path: str) -> None:
    """pytest itself, on an e2e test and an integration test: nothing is skipped silently."""
    code, output = run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-m", "e2e or integration", "tests/e2e/test_front_door.py",
         "tests/integration/test_accounts.py"],
        ROOT, PATH=bare_path,
    )  # fmt: skip
    assert code != 0, output
    errors = [line for line in output.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1, output
    assert "redis-server is not installed (apt-get install redis-server redis-tools)" in errors[0]
    assert "no working Docker engine: Docker is not installed" in errors[0]
    assert " passed" not in output and " skipped" not in output


def test_compose_has_no_usable_default_secret(checkout: Path) -> None:
    """Without .env and the variables, compose refuses (and says how to get them); with them,
    the secrets reach Redis and every service."""
    compose = ["docker-compose"] if shutil.which("docker-compose") else ["docker", "compose"]
    code, output = run([*compose, "config", "-q"], checkout)
    assert code != 0
    assert "run make up to generate the stack's secrets" in output
    env = {"FAILWHALE_TOKEN_SECRET": "t" * 40, "FAILWHALE_INTERNAL_SECRET": "i" * 40,
           "FAILWHALE_REDIS_PASSWORD": "p" * 40}  # fmt: skip
    code, output = run([*compose, "config", "-q"], checkout, **env)
    assert code != 0  # the console's token is a secret too
    assert "run make up to generate the stack's secrets" in output
    env["FAILWHALE_CONSOLE_TOKEN"] = "c" * 40
    code, output = run([*compose, "config"], checkout, **env)
    assert code == 0, output
    assert output.count("t" * 40) == output.count("i" * 40) == 7  # the seven services
    assert "redis://:" + "p" * 40 + "@redis:6379/0" in output
    assert output.count("c" * 40) == 2  # the chaos agent and the Locust master that calls it
