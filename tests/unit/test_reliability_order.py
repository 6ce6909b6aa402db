"""Counting what a conversation read back says about its order (reliability check 4)."""

from reliability.conversation_order import OrderAnomalies, anomalies


def test_a_clean_conversation_has_no_anomaly() -> None:
    messages = [(1, "a"), (2, "b"), (3, "c")]
    assert anomalies(messages, ["a", "b", "c"]) == OrderAnomalies(0, 0, 0)


def test_a_missing_number_is_a_gap_each() -> None:
    assert anomalies([(1, "a"), (4, "d")], ["a", "d"]).gaps == 2


def test_messages_served_out_of_seq_order_are_inversions() -> None:
    assert anomalies([(2, "b"), (1, "a"), (3, "c")], ["a", "b", "c"]).inversions == 1


def test_a_message_sent_after_another_was_acknowledged_but_numbered_before_it_is_an_inversion() -> (
    None
):
    # served in seq order, yet "b" was acknowledged before "a" was sent
    found = anomalies([(1, "a"), (2, "b")], ["b", "a"])
    assert found == OrderAnomalies(inversions=1, duplicates=0, gaps=0)


def test_a_write_stored_twice_and_a_seq_given_twice_are_duplicates() -> None:
    assert anomalies([(1, "a"), (2, "a")], ["a"]).duplicates == 1
    assert anomalies([(1, "a"), (1, "b")], ["a", "b"]).duplicates == 1


def test_messages_without_a_key_count_for_order_but_not_for_duplicates() -> None:
    assert anomalies([(1, None), (2, None)], []) == OrderAnomalies()


def test_anomalies_add_up_over_conversations() -> None:
    total = OrderAnomalies(1, 0, 2) + OrderAnomalies(0, 3, 1)
    assert total == OrderAnomalies(1, 3, 3)
