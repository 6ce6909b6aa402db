from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings, shared


class PostsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FAILWHALE_POSTS_", populate_by_name=True)

    service_name: str = shared("service_name", "posts")
    # Events older than this many entries are trimmed; consumers keep up long before that.
    stream_max_len: int = 200_000
