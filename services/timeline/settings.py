"""Settings of the timeline service (env prefix FAILWHALE_TIMELINE_)."""

from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings, shared


class TimelineSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FAILWHALE_TIMELINE_", populate_by_name=True)

    service_name: str = shared("service_name", "timeline")
    users_url: str = shared("users_url", "http://127.0.0.1:8081")
    home_max_len: int = 800
    fanout_batch: int = 100
    fanout_claim_idle_ms: int = 15_000
    # The heavy accounts each reader follows, kept per reader (services/timeline/heavy_follows.py):
    # fresh for this long (refreshed in the background from half of it), at most this many ids.
    heavy_follows_fresh_s: float = 10.0
    heavy_follows_max_ids: int = 200_000
