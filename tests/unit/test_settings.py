"""Settings: one environment name per shared setting for every service, a prefix of its own for
the rest, and plain keyword arguments in tests."""

import pytest
from pydantic import ValidationError

from services.common.settings import (
    DEV_INTERNAL_SECRET,
    DEV_TOKEN_SECRET,
    ServiceSettings,
    UnsafeSecrets,
    refuse_unsafe_secrets,
    settings_from_environment,
)
from services.dms.settings import DmsSettings
from services.gateway.settings import GatewaySettings
from services.posts.settings import PostsSettings
from services.timeline.settings import TimelineSettings
from services.trends.settings import TrendsSettings
from services.users.settings import UsersSettings
from stack.layout import LocalLayout

ALL = [GatewaySettings, UsersSettings, PostsSettings, TimelineSettings, DmsSettings, TrendsSettings]
SERVICE_OF = {
    GatewaySettings: "gateway",
    UsersSettings: "users",
    PostsSettings: "posts",
    TimelineSettings: "timeline",
    DmsSettings: "dms",
    TrendsSettings: "trends",
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the variables they set, not the developer's shell."""
    import os

    for name in list(os.environ):
        if name.startswith("FAILWHALE_") or name in {"REDIS_URL", "SERVICE_NAME", "LOG_LEVEL"}:
            monkeypatch.delenv(name)


@pytest.mark.parametrize("settings_class", ALL)
def test_every_service_reads_failwhale_redis_url(
    settings_class: type[ServiceSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAILWHALE_REDIS_URL", "redis://:pw@store.example:6390/3")
    assert settings_class().redis_url == "redis://:pw@store.example:6390/3"


@pytest.mark.parametrize("settings_class", ALL)
def test_every_service_has_its_own_default_name_and_takes_failwhale_service_name(
    settings_class: type[ServiceSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert settings_class().service_name == SERVICE_OF[settings_class]
    monkeypatch.setenv("FAILWHALE_SERVICE_NAME", "timeline-2")
    assert settings_class().service_name == "timeline-2"


@pytest.mark.parametrize("settings_class", ALL)
def test_every_service_reads_the_shared_secrets_and_resilience_switch(
    settings_class: type[ServiceSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAILWHALE_TOKEN_SECRET", "t" * 40)
    monkeypatch.setenv("FAILWHALE_INTERNAL_SECRET", "i" * 40)
    monkeypatch.setenv("FAILWHALE_RESILIENCE", "off")
    settings = settings_class()
    assert (settings.token_secret, settings.internal_secret) == ("t" * 40, "i" * 40)
    assert settings.resilience == "off"
    assert "t" * 40 not in repr(settings)  # secrets stay out of logs and tracebacks


@pytest.mark.parametrize("settings_class", ALL)
def test_no_service_has_a_usable_default_secret(settings_class: type[ServiceSettings]) -> None:
    settings = settings_class()
    assert (settings.token_secret, settings.internal_secret) == ("", "")
    with pytest.raises(UnsafeSecrets, match="FAILWHALE_TOKEN_SECRET is not set"):
        refuse_unsafe_secrets(settings)


REAL = "r" * 32
UNSAFE = {
    "published token secret": (
        {"token_secret": DEV_TOKEN_SECRET, "internal_secret": REAL},
        "FAILWHALE_TOKEN_SECRET is a published development value",
    ),
    "published internal secret": (
        {"token_secret": REAL, "internal_secret": DEV_INTERNAL_SECRET},
        "FAILWHALE_INTERNAL_SECRET is a published development value",
    ),
    "short token secret": (
        {"token_secret": "r" * 31, "internal_secret": REAL},
        "FAILWHALE_TOKEN_SECRET is shorter than 32 characters",
    ),
    "unset internal secret": (
        {"token_secret": REAL, "internal_secret": ""},
        "FAILWHALE_INTERNAL_SECRET is not set",
    ),
    "published redis password": (
        {"token_secret": REAL, "internal_secret": REAL,
         "redis_url": "redis://:failwhale-dev@redis:6379/0"},
        "FAILWHALE_REDIS_URL holds a published development password",
    ),
}  # fmt: skip


@pytest.mark.parametrize(("given", "reason"), UNSAFE.values(), ids=UNSAFE.keys())
def test_unsafe_secrets_are_refused_with_their_reason(given: dict[str, str], reason: str) -> None:
    with pytest.raises(UnsafeSecrets) as refused:
        refuse_unsafe_secrets(GatewaySettings(**given))
    message = str(refused.value)
    assert reason in message and "\n" not in message
    for value in given.values():  # the message names the problem, never the secret
        assert value not in message or value == ""


@pytest.mark.parametrize(
    "given", [v[0] for k, v in UNSAFE.items() if "unset" not in k], ids=lambda g: str(len(g))
)
def test_the_development_flag_accepts_published_or_short_secrets(given: dict[str, str]) -> None:
    refuse_unsafe_secrets(GatewaySettings(**given, dev_secrets=True))


def test_the_development_flag_never_accepts_an_unset_secret() -> None:
    with pytest.raises(UnsafeSecrets, match="FAILWHALE_TOKEN_SECRET is not set"):
        refuse_unsafe_secrets(GatewaySettings(internal_secret=REAL, dev_secrets=True))


def test_real_secrets_and_a_redis_url_without_published_password_pass() -> None:
    settings = GatewaySettings(
        token_secret=REAL, internal_secret="s" * 48, redis_url="redis://:x7Yq@redis:6379/0"
    )
    refuse_unsafe_secrets(settings)


def test_a_service_process_exits_with_one_line_on_unsafe_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAILWHALE_TOKEN_SECRET", DEV_TOKEN_SECRET)
    monkeypatch.setenv("FAILWHALE_INTERNAL_SECRET", REAL)
    with pytest.raises(SystemExit) as stopped:
        settings_from_environment(UsersSettings)
    assert str(stopped.value.code).startswith("users refuses to start: FAILWHALE_TOKEN_SECRET")
    monkeypatch.setenv("FAILWHALE_DEV_SECRETS", "1")
    assert settings_from_environment(UsersSettings).token_secret == DEV_TOKEN_SECRET


@pytest.mark.parametrize("settings_class", ALL)
def test_every_service_accepts_the_whole_environment_of_a_local_stack(
    settings_class: type[ServiceSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = LocalLayout(base_port=30000, redis_port=30009)
    name = SERVICE_OF[settings_class].replace("timeline", "timeline-1")
    for variable, value in layout.environment(name).items():
        monkeypatch.setenv(variable, value)
    settings = settings_class()
    assert settings.redis_url == layout.redis_url
    assert settings.token_secret == layout.token_secret
    assert settings.internal_port == layout.spec(name).internal_port
    refuse_unsafe_secrets(settings)  # a local stack's secrets are real ones


@pytest.mark.parametrize("settings_class", ALL)
def test_tests_pass_settings_by_field_name_over_the_environment(
    settings_class: type[ServiceSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAILWHALE_REDIS_URL", "redis://from-env:1/0")
    settings = settings_class(redis_url="redis://given:2/0", service_name="given")
    assert settings.redis_url == "redis://given:2/0"
    assert settings.service_name == "given"


@pytest.mark.parametrize("settings_class", ALL)
def test_unprefixed_variables_of_other_software_are_not_read(
    settings_class: type[ServiceSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    # REDIS_URL, SERVICE_NAME and LOG_LEVEL are commonly set for other programs in a container.
    monkeypatch.setenv("REDIS_URL", "redis://someone-elses:6379/0")
    monkeypatch.setenv("SERVICE_NAME", "someone-else")
    settings = settings_class()
    assert settings.redis_url == "redis://localhost:6379/0"
    assert settings.service_name == SERVICE_OF[settings_class]


def test_gateway_reads_every_downstream_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAILWHALE_USERS_URL", "http://users:8000")
    monkeypatch.setenv("FAILWHALE_POSTS_URL", "http://posts:8000")
    monkeypatch.setenv("FAILWHALE_DMS_URL", "http://dms:8000")
    monkeypatch.setenv("FAILWHALE_TRENDS_URL", "http://trends:8000")
    monkeypatch.setenv(
        "FAILWHALE_TIMELINE_URLS", " http://timeline-1:8000 ,http://timeline-2:8000,"
    )
    settings = GatewaySettings()
    assert (settings.users_url, settings.posts_url, settings.dms_url, settings.trends_url) == (
        "http://users:8000",
        "http://posts:8000",
        "http://dms:8000",
        "http://trends:8000",
    )
    assert settings.timeline_replicas() == ["http://timeline-1:8000", "http://timeline-2:8000"]


def test_timeline_reads_the_users_url_for_fan_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAILWHALE_USERS_URL", "http://users:8000")
    assert TimelineSettings().users_url == "http://users:8000"


def test_service_own_settings_use_the_service_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAILWHALE_USERS_LOGIN_FAILURES_BEFORE_LOCKOUT", "3")
    monkeypatch.setenv("FAILWHALE_TIMELINE_FANOUT_CLAIM_IDLE_MS", "2000")
    monkeypatch.setenv("FAILWHALE_TRENDS_TOP", "5")
    assert UsersSettings().login_failures_before_lockout == 3
    assert TimelineSettings().fanout_claim_idle_ms == 2000
    assert TrendsSettings().top == 5
    # another service's prefix is not read
    assert PostsSettings().stream_max_len == 200_000


def test_resilience_switch_accepts_only_on_or_off() -> None:
    with pytest.raises(ValidationError):
        GatewaySettings(resilience="maybe")
