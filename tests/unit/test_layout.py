"""The local stack's layout: a public and an internal port per service, and secrets that are
never published values: the checkout's for the user's stack, fresh ones for any other; the state
file keeps them (privately) so that the chaos engine finds the running stack's."""

import stat
from pathlib import Path

import pytest

from chaos.backends.local.driver import LocalBackend
from services.common.settings import MIN_SECRET_LENGTH, PUBLISHED_SECRETS
from stack import env_secrets
from stack.layout import INTERNAL_OFFSET, LocalLayout, free_layout
from stack.local import LocalStack

SECRET_FIELDS = ("token_secret", "internal_secret", "redis_password")


@pytest.fixture(autouse=True)
def no_secrets_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in env_secrets.SECRET_KEYS:
        monkeypatch.delenv(name, raising=False)


def secrets_of(layout: LocalLayout) -> tuple[str, ...]:
    return tuple(getattr(layout, name) for name in SECRET_FIELDS)


def test_every_layout_made_for_a_test_has_fresh_secrets_of_its_own() -> None:
    first, second = free_layout(), free_layout()
    assert set(secrets_of(first)).isdisjoint(secrets_of(second))
    for value in secrets_of(first):
        assert len(value) >= MIN_SECRET_LENGTH and value not in PUBLISHED_SECRETS
    assert first.token_secret not in repr(first)


def test_each_service_has_an_internal_port_of_its_own_apart_from_every_public_port() -> None:
    layout = LocalLayout(base_port=21000, redis_port=21009)
    public = [s.port for s in layout.services]
    internal = [s.internal_port for s in layout.services]
    assert internal == [p + INTERNAL_OFFSET for p in public]
    assert len(set(public + internal + [layout.redis_port])) == 2 * len(public) + 1
    assert layout.internal_url("dms") == "http://127.0.0.1:21025"


def test_a_service_environment_carries_the_stack_secrets_and_its_internal_port() -> None:
    layout = free_layout()
    env = layout.environment("timeline-2")
    assert env["FAILWHALE_TOKEN_SECRET"] == layout.token_secret
    assert env["FAILWHALE_INTERNAL_SECRET"] == layout.internal_secret
    assert f":{layout.redis_password}@" in env["FAILWHALE_REDIS_URL"]
    assert env["FAILWHALE_INTERNAL_PORT"] == str(layout.spec("timeline-2").internal_port)
    assert env["FAILWHALE_INTERNAL_HOST"] == "127.0.0.1"


def test_the_users_stack_takes_the_checkouts_secrets_generated_once(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    first = LocalLayout.of_checkout(env_file)
    again = LocalLayout.of_checkout(env_file, base_port=9000)
    assert secrets_of(first) == secrets_of(again)
    written = env_secrets.read(env_file)
    assert first.token_secret == written[env_secrets.TOKEN_SECRET]
    assert first.redis_password == written[env_secrets.REDIS_PASSWORD]
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


def test_the_state_file_keeps_the_secrets_privately_and_the_chaos_engine_finds_them(
    tmp_path: Path,
) -> None:
    layout = free_layout()
    LocalStack(tmp_path, layout)._save_state()
    state_file = tmp_path / "stack.json"
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    backend = LocalBackend.from_workdir(tmp_path)
    assert secrets_of(backend.layout) == secrets_of(layout)
    assert backend.layout.base_port == layout.base_port
    # No process to read them from: the hook is called with the stack's own secrets.
    keys = backend.keys("dms")
    assert (keys.user_secret, keys.internal_secret) == (layout.token_secret, layout.internal_secret)


def test_a_state_recorded_without_secrets_is_the_users_stack(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    restored = LocalLayout.from_state({"base_port": 9100, "redis_port": 9109}, env_file)
    assert restored.base_port == 9100
    assert secrets_of(restored) == secrets_of(LocalLayout.of_checkout(env_file))
