from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings, shared


class DmsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FAILWHALE_DMS_", populate_by_name=True)

    service_name: str = shared("service_name", "dms")
