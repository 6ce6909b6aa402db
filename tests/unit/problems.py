"""The shape every error answer of Chirp has: RFC 9457 problem+json."""

import httpx

from services.common.errors import PROBLEM_BASE, PROBLEM_JSON


def assert_problem(
    response: httpx.Response, status: int, slug: str | None = None
) -> dict[str, object]:
    """The answer is an RFC 9457 problem with the given status (and type, when given)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["type"], str) and body["type"].startswith(PROBLEM_BASE)
    if slug is not None:
        assert body["type"] == PROBLEM_BASE + slug
    return body
