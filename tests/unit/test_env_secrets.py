"""The stack's generated secrets (stack/env_secrets.py): the console's token is one of them,
written once into .env with the others, never replaced, and overridden by the environment."""

import stat
from pathlib import Path

import pytest

from stack import env_secrets


@pytest.fixture(autouse=True)
def no_secrets_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in env_secrets.SECRET_KEYS:
        monkeypatch.delenv(name, raising=False)


def test_the_console_token_is_generated_with_the_other_secrets(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    values, added = env_secrets.ensure(env_file)
    assert env_secrets.CONSOLE_TOKEN in added
    token = values[env_secrets.CONSOLE_TOKEN]
    assert len(token) >= 40
    # one value per secret: the token is no copy of another secret
    assert len({values[key] for key in env_secrets.SECRET_KEYS}) == len(env_secrets.SECRET_KEYS)
    assert env_secrets.read(env_file)[env_secrets.CONSOLE_TOKEN] == token
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


def test_an_older_env_file_gets_the_token_and_keeps_its_secrets(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "FAILWHALE_TOKEN_SECRET=kept-token-secret\n"
        "FAILWHALE_INTERNAL_SECRET=kept-internal\n"
        "FAILWHALE_REDIS_PASSWORD=kept-password\n"
    )
    values, added = env_secrets.ensure(env_file)
    assert added == [env_secrets.CONSOLE_TOKEN]
    assert values[env_secrets.TOKEN_SECRET] == "kept-token-secret"
    again, added_again = env_secrets.ensure(env_file)
    assert added_again == []
    assert again[env_secrets.CONSOLE_TOKEN] == values[env_secrets.CONSOLE_TOKEN]


def test_the_environment_wins_over_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_secrets.ensure(env_file)
    monkeypatch.setenv(env_secrets.CONSOLE_TOKEN, "from-the-environment")
    assert env_secrets.stack_values(env_file)[env_secrets.CONSOLE_TOKEN] == "from-the-environment"
