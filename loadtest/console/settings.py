"""The console's settings, from the master's environment: where the chaos agent is, the token
to call it with (FAILWHALE_CONSOLE_TOKEN, or the file FAILWHALE_CONSOLE_TOKEN_FILE names), and
whether its write routes may answer a UI published beyond loopback."""

from typing import Any

from pydantic import Field, field_validator

from services.common.settings import SecretFileSettings


class ConsoleSettings(SecretFileSettings):
    console_agent_url: str = ""  # empty: no chaos agent in this stack
    console_token: str = Field("", repr=False)
    console_remote: bool = False  # "on" lets the write routes answer a UI published widely
    publish_address: str = ""  # where the stack publishes its ports; empty: the web UI's bind

    @field_validator("console_remote", mode="before")
    @classmethod
    def on_or_off(cls, value: Any) -> Any:
        return {"on": True, "off": False, "": False}.get(str(value).strip().lower(), value)

    @property
    def agent(self) -> bool:
        return bool(self.console_agent_url.strip())
