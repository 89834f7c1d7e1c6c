"""LazyMatcher answers like paho's matcher, whether or not per-topic callbacks are registered."""

from __future__ import annotations

import aiomqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.matcher import MQTTMatcher

from agent.transports.topic_filters import LazyMatcher, skip_empty_topic_matching

levels = st.lists(st.sampled_from(["a", "b", "zigbee2mqtt", "$SYS", "+", "#"]), min_size=1, max_size=4)
topics = st.lists(st.sampled_from(["a", "b", "zigbee2mqtt", "$SYS", "c"]), min_size=1, max_size=4).map("/".join)


def valid_filter(parts: list[str]) -> str:
    """A subscription filter: ``#`` only last."""
    cut = parts.index("#") + 1 if "#" in parts else len(parts)
    return "/".join(parts[:cut])


@settings(max_examples=200, deadline=None)
@given(st.lists(levels.map(valid_filter), max_size=4, unique=True), topics)
def test_matches_exactly_what_paho_matches(filters: list[str], topic: str) -> None:
    paho, lazy = MQTTMatcher(), LazyMatcher()
    for n, f in enumerate(filters):
        paho[f] = n
        lazy[f] = n
    assert sorted(lazy.iter_match(topic)) == sorted(paho.iter_match(topic))


@pytest.mark.asyncio
async def test_the_agents_clients_get_the_lazy_matcher_and_callbacks_added_later_still_run() -> None:
    client = aiomqtt.Client("127.0.0.1", 1)
    skip_empty_topic_matching(client)
    inner = client._client  # noqa: SLF001
    assert isinstance(inner._on_message_filtered, LazyMatcher)  # noqa: SLF001
    inner.message_callback_add("zigbee2mqtt/#", print)
    assert list(inner._on_message_filtered.iter_match("zigbee2mqtt/x")) == [print]  # noqa: SLF001
