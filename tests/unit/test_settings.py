"""Settings: one environment name per shared setting for every service, a prefix of its own for
the rest, and plain keyword arguments in tests."""

import pytest
from pydantic import ValidationError

from failwhale.layout import LocalLayout
from services.common.settings import DEV_TOKEN_SECRET, ServiceSettings
from services.dms.settings import DmsSettings
from services.gateway.settings import GatewaySettings
from services.posts.settings import PostsSettings
from services.timeline.settings import TimelineSettings
from services.trends.settings import TrendsSettings
from services.users.settings import UsersSettings

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
    assert settings_class().token_secret == DEV_TOKEN_SECRET
    monkeypatch.setenv("FAILWHALE_TOKEN_SECRET", "t" * 40)
    monkeypatch.setenv("FAILWHALE_INTERNAL_SECRET", "i" * 40)
    monkeypatch.setenv("FAILWHALE_RESILIENCE", "off")
    settings = settings_class()
    assert (settings.token_secret, settings.internal_secret) == ("t" * 40, "i" * 40)
    assert settings.resilience == "off"


@pytest.mark.parametrize("settings_class", ALL)
def test_every_service_accepts_the_whole_environment_of_a_local_stack(
    settings_class: type[ServiceSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = LocalLayout(base_port=30000, redis_port=30009)
    for name, value in layout.environment(SERVICE_OF[settings_class]).items():
        monkeypatch.setenv(name, value)
    assert settings_class().redis_url == layout.redis_url


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
