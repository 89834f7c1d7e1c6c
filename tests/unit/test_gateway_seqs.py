"""The gateway's own serial seqs: never reused across restarts, reservations durable in the store.

The property test models the real timing: a reservation is written on the store
thread and may still be queued when the gateway dies, and the gateway may die
at any frame.  Whatever happens, a node never gets the same seq twice (within
one wrap of the 16-bit counter), because a restart resumes past every
reservation that was durable, and new blocks are asked for half a block early.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.ingest.gateway_seqs import BLOCK, GatewaySeqs, resume
from agent.store import Store


class Disk:
    """Reservations as a store would hold them, with writes that land ``lag`` frames late."""

    def __init__(self, lag: int) -> None:
        self.durable: dict[int, int] = {}
        self.queued: list[tuple[int, int, int]] = []  # (frames until written, node, upto)
        self.lag = lag

    def reserve(self, node: int, upto: int) -> None:
        self.queued.append((self.lag, node, upto))

    def tick(self) -> None:
        still = []
        for left, node, upto in self.queued:
            if left <= 0:
                self.durable[node] = max(self.durable.get(node, 0), upto)
            else:
                still.append((left - 1, node, upto))
        self.queued = still

    def crash(self) -> None:
        self.queued = []

    def start(self) -> GatewaySeqs:
        """What the agent does at start: commit the next block past every stored one, then count."""
        stored = dict(self.durable)
        ahead = resume(stored)
        self.durable.update(ahead)
        return GatewaySeqs(stored, ahead, reserve=self.reserve)


@settings(max_examples=60, deadline=None)
@given(
    # Each run is bursts of frames to one node: (node, how many frames in a row).
    runs=st.lists(st.lists(st.tuples(st.integers(0, 2), st.integers(1, 2 * BLOCK)), max_size=4),
                  min_size=1, max_size=4),
    lag=st.integers(0, BLOCK // 2 - 1),
)
def test_no_node_is_given_a_seq_twice_across_crashes(runs: list[list[tuple[int, int]]], lag: int) -> None:
    disk = Disk(lag)
    given_out: dict[int, list[int]] = {}
    for bursts in runs:  # each run ends in a crash: queued reservations are lost
        seqs = disk.start()
        for node, frames in bursts:
            for _ in range(frames):
                given_out.setdefault(node, []).append(seqs.take(node))
                disk.tick()
        disk.crash()
    for node, seen in given_out.items():
        assert len(seen) == len(set(seen)), f"node {node} was given a seq twice"


def test_counters_without_a_store_start_at_zero_and_wrap_at_16_bits() -> None:
    seqs = GatewaySeqs({7: 65_535})
    assert [seqs.take(7), seqs.take(7), seqs.take(3), seqs.take(3)] == [65_535, 0, 0, 1]


def test_a_failing_reservation_is_logged_and_counting_goes_on(caplog) -> None:  # type: ignore[no-untyped-def]
    def broken(node: int, upto: int) -> None:
        raise OSError("disk full")

    seqs = GatewaySeqs(reserve=broken)
    assert [seqs.take(1) for _ in range(3)] == [0, 1, 2]
    assert "could not reserve serial seqs for node 1" in caplog.text


def test_reservations_are_kept_per_dongle_never_move_back_and_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "gw.db"
    with Store.open(path) as store:
        assert store.gateway_seq_reservations("lab") == {}
        store.reserve_gateway_seqs("lab", {3: 2048, 12: 1024})
        store.reserve_gateway_seqs("lab", {3: 1024})  # a late, older write: ignored
        store.reserve_gateway_seqs("lab2", {3: 5})
    with Store.open(path) as store:
        assert store.gateway_seq_reservations("lab") == {3: 2048, 12: 1024}
        assert store.gateway_seq_reservations("lab2") == {3: 5}
        assert store.gateway_seq_reservations("la") == {}
