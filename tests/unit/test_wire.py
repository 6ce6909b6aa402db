"""Stored records to public answers: posts and messages as the services keep them in Redis."""

from datetime import UTC, datetime

import orjson
import pytest

from services.common.wire import Message, Post


def test_post_from_its_record_has_the_public_fields_only() -> None:
    record = {
        "id": 3,
        "author_id": 7,
        "author": "alice",
        "text": "hé 🐳",
        "created_ms": 1_700_000_000_123,
    }
    post = Post.from_record(orjson.dumps(record).decode())
    assert post.model_dump() == {
        "id": 3,
        "author": "alice",
        "text": "hé 🐳",
        "created_at": datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC),
    }
    assert "author_id" not in post.model_dump_json()


def test_post_ids_of_sixteen_digits_keep_every_digit() -> None:
    # Post ids are epoch milliseconds * 1024 + a counter, 16 digits: more than the 14 that
    # Lua's default number format keeps, so records write them as integers.
    post_id = 1_838_734_947_463_681
    record = orjson.dumps(
        {"id": post_id, "author_id": 7, "author": "a", "text": "x", "created_ms": 1}
    )
    assert Post.from_record(record).id == post_id
    assert orjson.loads(Post.from_record(record).model_dump_json())["id"] == post_id


def test_message_from_its_record_has_the_public_fields_only() -> None:
    record = {
        "conversation_id": "1-2",
        "seq": 4,
        "sender_id": 2,
        "sender": "bob",
        "text": "hi",
        "sent_ms": 1_700_000_000_000,
    }
    message = Message.from_record(orjson.dumps(record))
    assert message.model_dump() == {
        "conversation_id": "1-2",
        "seq": 4,
        "sender": "bob",
        "text": "hi",
        "sent_at": datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
    }


def test_record_missing_a_field_is_an_error_not_a_partial_post() -> None:
    with pytest.raises(KeyError):
        Post.from_record('{"id": 1, "author": "a", "text": "x"}')
