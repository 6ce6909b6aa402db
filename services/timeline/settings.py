from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings, shared


class TimelineSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FAILWHALE_TIMELINE_", populate_by_name=True)

    service_name: str = shared("service_name", "timeline")
    users_url: str = shared("users_url", "http://127.0.0.1:8081")
    home_max_len: int = 800
    fanout_batch: int = 100
    fanout_claim_idle_ms: int = 15_000
