"""The gateway's settings (`FAILWHALE_GATEWAY_*`, and the shared `FAILWHALE_*` ones)."""

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings, shared
from services.gateway.discovery import DiscoveryName


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FAILWHALE_GATEWAY_", populate_by_name=True)

    service_name: str = shared("service_name", "gateway")
    users_url: str = shared("users_url", "http://127.0.0.1:8081")
    posts_url: str = shared("posts_url", "http://127.0.0.1:8082")
    timeline_urls: str = shared("timeline_urls", "http://127.0.0.1:8083,http://127.0.0.1:8084")
    # Empty: the timeline replicas are `timeline_urls`. Else `host:port`, a name resolved every
    # `timeline_discovery_interval_s`, each address one replica (services.gateway.discovery).
    timeline_discovery: str = shared("timeline_discovery", "")
    timeline_discovery_interval_s: float = shared("timeline_discovery_interval_s", 2.0)
    dms_url: str = shared("dms_url", "http://127.0.0.1:8085")
    trends_url: str = shared("trends_url", "http://127.0.0.1:8086")
    handle_cache_size: int = 100_000
    # The last good answers (posts, first pages, conversation tails) kept for fallbacks, and
    # the follow lists kept for fan-out on read: each store at most this many bytes.
    last_good_bytes: int = Field(32 * 2**20, ge=0)
    follow_lists_bytes: int = Field(8 * 2**20, ge=0)
    # Admission control (resilience on only, services.gateway.admission): the bounds of the
    # adaptive limit of requests worked on at once, the event-loop lag it keeps under, how many
    # may wait for a place and for how long, and each request's budget.
    admission_max_limit: int = Field(256, ge=1)
    admission_min_limit: int = Field(32, ge=1)
    admission_lag_target_s: float = Field(0.01, gt=0)
    admission_queue: int = Field(256, ge=0)
    admission_queue_timeout_s: float = Field(0.25, ge=0)
    admission_standing_queue_timeout_s: float = Field(0.01, ge=0)
    # Above the slowest edge's deadline (5.5 s, a sign-up's password hash): the budget only
    # bites on time a request lost before its calls (waiting for a place, a slow first call).
    request_budget_s: float = Field(6.0, gt=0)

    @field_validator("timeline_discovery")
    @classmethod
    def _discovery_name(cls, value: str) -> str:
        if value.strip():
            DiscoveryName.parse(value)
        return value.strip()

    @field_validator("timeline_discovery_interval_s")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("the discovery interval must be above 0 s")
        return value

    def timeline_replicas(self) -> list[str]:
        return [url.strip() for url in self.timeline_urls.split(",") if url.strip()]
