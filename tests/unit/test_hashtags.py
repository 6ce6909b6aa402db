"""Hashtag extraction for trends: which tags a post's text counts for."""

import pytest

from services.trends.store import hashtags


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        ("no tags here", []),
        ("#chirp", ["chirp"]),
        ("love #Python and #python and #PYTHON", ["python"]),
        ("#b then #a", ["a", "b"]),
        ("#one,#two.#three!", ["one", "three", "two"]),
        ("#snake_case #x2", ["snake_case", "x2"]),
        ("# nothing after the sign", []),
        ("##double", ["double"]),
        ("#Ünïcödé", ["ünïcödé"]),
    ],
)
def test_hashtags_are_lowercased_deduplicated_and_sorted(text: str, tags: list[str]) -> None:
    assert hashtags(text) == tags


def test_hashtag_stops_at_50_characters() -> None:
    assert hashtags("#" + "a" * 60) == ["a" * 50]


def test_hyphen_ends_a_hashtag() -> None:
    assert hashtags("#fail-whale") == ["fail"]
