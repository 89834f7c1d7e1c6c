"""Skip paho's per-topic callback matching while no per-topic callback is registered.

paho looks up every incoming message in its registry of per-topic callbacks
(``message_callback_add``) before calling ``on_message``: it splits the topic
and walks a trie through a recursive generator, about a tenth of the agent's
time per message when a Zigbee backlog drains.  edgewise registers no per-topic
callbacks, so that walk always finds nothing.  :class:`LazyMatcher` answers
"nothing" at once while its registry is empty and matches as paho does
otherwise, so a callback added later still works.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import aiomqtt
from paho.mqtt.matcher import MQTTMatcher

log = logging.getLogger(__name__)


class LazyMatcher(MQTTMatcher):  # type: ignore[misc]
    """paho's matcher, with the empty-registry case answered without walking."""

    def iter_match(self, topic: str) -> Iterator[Any]:
        if not self._root._children:
            return iter(())
        return super().iter_match(topic)  # type: ignore[no-any-return]


def skip_empty_topic_matching(client: aiomqtt.Client) -> None:
    """Give ``client``'s paho client a :class:`LazyMatcher`; before connecting.

    paho keeps the registry in a private attribute; if a future paho has none,
    or one that already holds callbacks, the client is left as it was.
    """
    inner = client._client  # noqa: SLF001 - aiomqtt exposes no hook
    current = getattr(inner, "_on_message_filtered", None)
    if type(current) is MQTTMatcher and not current._root._children:  # noqa: SLF001
        inner._on_message_filtered = LazyMatcher()  # noqa: SLF001
    else:
        log.debug("paho's topic-callback registry is not as expected; matching stays as it is")
