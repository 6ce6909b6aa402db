from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings, shared


class TrendsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FAILWHALE_TRENDS_", populate_by_name=True)

    service_name: str = shared("service_name", "trends")
    window_minutes: int = 60
    top: int = 10
