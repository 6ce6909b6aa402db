"""Home-timeline pages as the timeline routes serve them: the reader's home set merged with the
posts of the heavy accounts they follow, and the degraded reasons when that list could not come
from users (services/timeline/heavy_follows.py)."""

from dataclasses import dataclass, field

from starlette.responses import Response

from services.common.paging import post_page_response
from services.timeline.heavy_follows import HeavyFollows
from services.timeline.store import HomeTimelines


@dataclass
class HomePage:
    records: list[str]  # up to the limit asked, newest first
    degraded: list[str] = field(default_factory=list)  # `dependency=fallback` reasons


class HomePages:
    def __init__(self, store: HomeTimelines, heavy: HeavyFollows) -> None:
        self.store = store
        self.heavy = heavy

    async def page(self, reader: int, limit: int, before: int | None) -> HomePage:
        followed, reason = await self.heavy.of(reader)
        records = await self.store.page(reader, limit, before, followed)
        return HomePage(records, [reason] if reason else [])


def home_page_response(page: HomePage, limit: int) -> Response:
    """The page as JSON (`page.records` holds up to limit + 1), flagged when degraded: header
    `X-Degraded` and body `degraded`, which the gateway relays as they are."""
    return post_page_response(page.records, limit, page.degraded)


__all__ = ["HomePage", "HomePages", "home_page_response"]
