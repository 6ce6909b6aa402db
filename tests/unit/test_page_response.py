"""The hand-written page JSON is the one pydantic writes for `PostPage`."""

import orjson
import pytest

from services.common.paging import post_page, post_page_response

RECORDS = [
    orjson.dumps(
        {"id": 900 - n, "author_id": 3, "author": "zoë", "text": f"n°{n} \"q\" #tag",
         "created_ms": 1_700_000_000_000 + n * 1001}
    ).decode()
    for n in range(4)
]  # fmt: skip


@pytest.mark.parametrize("limit", [1, 3, 4, 10])
def test_page_response_matches_the_pydantic_page(limit: int) -> None:
    written = orjson.loads(post_page_response(RECORDS, limit).body)
    assert written == orjson.loads(post_page(RECORDS, limit).model_dump_json())


def test_page_response_of_nothing_is_an_empty_page() -> None:
    answer = post_page_response([], 20)
    assert answer.media_type == "application/json"
    assert orjson.loads(answer.body) == {"items": [], "next": None}
