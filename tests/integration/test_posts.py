"""Posts through the gateway: creating, reading one back, and an author's own timeline."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.integration.chirp import Member, post, sign_up
from tests.unit.problems import assert_problem

pytestmark = pytest.mark.integration


@pytest.fixture
def author(api: httpx.Client) -> Member:
    return sign_up(api, "author")


def all_pages(api: httpx.Client, path: str, reader: Member, limit: int) -> list[list[int]]:
    pages: list[list[int]] = []
    params: dict[str, int] = {"limit": limit}
    while True:
        answer = api.get(path, params=params, headers=reader.auth)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        pages.append([item["id"] for item in body["items"]])
        if body["next"] is None:
            return pages
        assert body["next"] == pages[-1][-1]
        params = {"limit": limit, "before": body["next"]}


def test_new_post_answers_201_with_id_author_text_and_creation_time(
    api: httpx.Client, author: Member
) -> None:
    before = datetime.now(UTC)
    answer = api.post("/v1/posts", json={"text": "first chirp 🐳"}, headers=author.auth)
    assert answer.status_code == 201
    body = answer.json()
    assert set(body) == {"id", "author", "text", "created_at"}
    assert (body["author"], body["text"]) == (author.handle, "first chirp 🐳")
    created = datetime.fromisoformat(body["created_at"])
    assert before - timedelta(seconds=2) <= created <= datetime.now(UTC) + timedelta(seconds=2)


def test_post_reads_back_exactly_as_created(api: httpx.Client, author: Member) -> None:
    created = post(api, author, "read me back")
    reader = sign_up(api)
    answer = api.get(f"/v1/posts/{created['id']}", headers=reader.auth)
    assert answer.status_code == 200
    assert answer.json() == created


def test_later_posts_get_larger_ids_and_times(api: httpx.Client, author: Member) -> None:
    posts = [post(api, author, f"n{i}") for i in range(5)]
    ids = [p["id"] for p in posts]
    times = [datetime.fromisoformat(str(p["created_at"])) for p in posts]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert times == sorted(times)


@pytest.mark.parametrize("missing", ["999999999999999999", "1", "0", "-5"])
def test_unknown_post_is_a_404_problem(api: httpx.Client, author: Member, missing: str) -> None:
    assert_problem(api.get(f"/v1/posts/{missing}", headers=author.auth), 404, "not-found")


def test_user_posts_are_the_authors_only_newest_first(api: httpx.Client, author: Member) -> None:
    other = sign_up(api)
    mine = [post(api, author, f"mine {i}")["id"] for i in range(3)]
    post(api, other, "not theirs")
    answer = api.get(f"/v1/users/{author.handle}/posts", headers=other.auth)
    assert answer.status_code == 200
    body = answer.json()
    assert [item["id"] for item in body["items"]] == mine[::-1]
    assert {item["author"] for item in body["items"]} == {author.handle}
    assert [item["text"] for item in body["items"]] == ["mine 2", "mine 1", "mine 0"]
    assert body["next"] is None


def test_user_posts_page_through_without_gaps_or_duplicates(
    api: httpx.Client, author: Member
) -> None:
    ids = [post(api, author, f"paged {i}")["id"] for i in range(12)]
    pages = all_pages(api, f"/v1/users/{author.handle}/posts", author, limit=5)
    assert [len(p) for p in pages] == [5, 5, 2]
    assert [i for page in pages for i in page] == ids[::-1]


def test_user_posts_default_to_20_and_honour_limit(api: httpx.Client, author: Member) -> None:
    ids = [post(api, author, f"count {i}")["id"] for i in range(21)]
    default = api.get(f"/v1/users/{author.handle}/posts", headers=author.auth).json()
    assert [item["id"] for item in default["items"]] == ids[::-1][:20]
    assert default["next"] == ids[1]
    one = api.get(f"/v1/users/{author.handle}/posts?limit=1", headers=author.auth).json()
    assert [item["id"] for item in one["items"]] == [ids[-1]]


def test_user_posts_before_an_id_are_the_older_ones(api: httpx.Client, author: Member) -> None:
    ids = [post(api, author, f"b {i}")["id"] for i in range(4)]
    answer = api.get(
        f"/v1/users/{author.handle}/posts", params={"before": ids[2]}, headers=author.auth
    )
    assert [item["id"] for item in answer.json()["items"]] == [ids[1], ids[0]]


def test_member_without_posts_has_an_empty_page(api: httpx.Client, author: Member) -> None:
    answer = api.get(f"/v1/users/{author.handle}/posts", headers=author.auth)
    assert answer.json() == {"items": [], "next": None}


def test_posts_of_an_unknown_handle_are_a_404_problem(api: httpx.Client, author: Member) -> None:
    answer = api.get("/v1/users/nobody_by_that_name/posts", headers=author.auth)
    assert_problem(answer, 404, "not-found")
