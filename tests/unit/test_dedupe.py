"""Serial deduplication by (node, sequence), including 16-bit wrap-around."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from agent.ingest.dedupe import SequenceDeduper


def test_a_retransmitted_sequence_is_a_duplicate_until_it_leaves_the_window() -> None:
    d = SequenceDeduper(window=3)
    for seq in (65534, 65535, 0):
        assert not d.is_duplicate("node-0001", seq)
        d.remember("node-0001", seq)
    assert d.is_duplicate("node-0001", 65535)
    assert not d.is_duplicate("node-0002", 65535)
    d.remember("node-0001", 1)
    assert not d.is_duplicate("node-0001", 65534)  # fell out of the window


def test_memory_is_restored_after_a_restart() -> None:
    d = SequenceDeduper()
    d.load({"node-0003": [7, 8, 9]})
    assert d.is_duplicate("node-0003", 8)
    assert not d.is_duplicate("node-0003", 10)


@given(st.lists(st.integers(0, 65535), max_size=300), st.integers(1, 64))
def test_matches_a_model_of_the_last_window_distinct_sequences(seqs: list[int], window: int) -> None:
    d = SequenceDeduper(window=window)
    model: list[int] = []
    for seq in seqs:
        assert d.is_duplicate("n", seq) == (seq in model)
        d.remember("n", seq)
        if seq not in model:
            model.append(seq)
            model = model[-window:]
