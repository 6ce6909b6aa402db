"""The one-hop baseline of the read-path benchmark: a minimal FastAPI app, served by uvicorn the
way the services are, that reads a home timeline straight from the timeline service's Redis keys
(the sorted set `tl:home:<user>` and the post records, in the one round trip the timeline
service makes too) and answers the page in public form.

No auth, no breaker, no middleware, no second hop: what a timeline read costs with nothing
around it. Like the services, it turns FastAPI's OpenTelemetry hooks off.

    FAILWHALE_REDIS_URL=redis://... uvicorn bench.baseline_app:create_app --factory
"""

import os
from datetime import UTC, datetime
from typing import Any

import orjson
import redis.asyncio as aioredis
from fastapi import FastAPI, Query
from starlette.responses import Response

from services.common.service_app import NO_TELEMETRY
from services.timeline.store import PAGE_SCRIPT, POST_PREFIX


def _public(record: bytes) -> dict[str, Any]:
    data = orjson.loads(record)
    created = datetime.fromtimestamp(int(data["created_ms"]) / 1000, tz=UTC)
    return {"id": data["id"], "author": data["author"], "text": data["text"], "created_at": created}


def create_app() -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, telemetry=NO_TELEMETRY)
    redis = aioredis.Redis.from_url(os.environ["FAILWHALE_REDIS_URL"], max_connections=64)
    page_script = redis.register_script(PAGE_SCRIPT)

    @app.get("/timeline")
    async def timeline(user: int, limit: int = Query(20, ge=1, le=100)) -> Response:
        # One more than asked, to know whether a next page exists (as the timeline service does).
        args: list[str | int] = ["+inf", limit + 1, POST_PREFIX]
        records: list[bytes | None] = await page_script(keys=[f"tl:home:{user}"], args=args)
        items = [_public(r) for r in records if r is not None]
        following = items[limit - 1]["id"] if len(items) > limit else None
        page = {"items": items[:limit], "next": following}
        return Response(orjson.dumps(page, option=orjson.OPT_UTC_Z), media_type="application/json")

    return app
