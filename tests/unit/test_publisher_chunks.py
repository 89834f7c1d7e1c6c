"""How outbox rows become upstream messages: grouped per device, order kept, bounded size."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from agent.store import OutboxRow
from agent.upstream.publisher import chunk_rows


@given(st.lists(st.sampled_from(["a", "b", "c"]), max_size=200), st.integers(1, 17))
def test_chunks_keep_outbox_order_per_device_and_respect_batch_size(devices: list[str], size: int) -> None:
    rows = [
        OutboxRow(i + 1, f"edgewise/gw/readings/{d}", json.dumps({"point": f"{d}/t", "value": i}), 0.0)
        for i, d in enumerate(devices)
    ]
    chunks = chunk_rows(rows, size)
    assert sorted(r.id for c in chunks for r in c.rows) == [r.id for r in rows]
    for chunk in chunks:
        assert 1 <= len(chunk.rows) <= size
        assert {r.topic for r in chunk.rows} == {chunk.topic}
    for device in set(devices):
        topic = f"edgewise/gw/readings/{device}"
        ids = [r.id for c in chunks if c.topic == topic for r in c.rows]
        assert ids == sorted(ids)


def test_payload_is_json_with_the_gateway_device_and_readings() -> None:
    rows = [OutboxRow(1, "edgewise/gw/readings/node-0001", '{"point":"node-0001/co2","ts":1.0,"value":500.0,"unit":"ppm"}', 0.0)]
    payload = json.loads(chunk_rows(rows, 10)[0].payload("gw"))
    assert payload == {"gateway": "gw", "device": "node-0001",
                       "readings": [{"point": "node-0001/co2", "ts": 1.0, "value": 500.0, "unit": "ppm"}]}
