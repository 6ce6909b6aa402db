from pydantic import BaseModel


class UserIds(BaseModel):
    items: list[int]
