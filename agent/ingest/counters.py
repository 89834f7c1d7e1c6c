"""What ingest accepted, rejected and why: the numbers an operator checks first."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class IngestCounters:
    """Running totals for one agent process (reset on restart; totals that must
    survive a restart live in the store)."""

    frames_received: int = 0
    frames_rejected: int = 0
    frame_reject_reasons: Counter[str] = field(default_factory=Counter)
    serial_duplicates: int = 0
    heartbeats: int = 0
    unknown_channels: int = 0
    mqtt_messages_received: int = 0
    mqtt_messages_rejected: int = 0
    mqtt_reject_reasons: Counter[str] = field(default_factory=Counter)
    mqtt_duplicates: int = 0
    readings_accepted: int = 0

    def reject_frame(self, reason: str) -> None:
        self.frames_rejected += 1
        self.frame_reject_reasons[reason] += 1

    def reject_mqtt(self, reason: str) -> None:
        self.mqtt_messages_rejected += 1
        self.mqtt_reject_reasons[reason] += 1

    def as_dict(self) -> dict[str, object]:
        return {
            "frames_received": self.frames_received,
            "frames_rejected": self.frames_rejected,
            "frame_reject_reasons": dict(self.frame_reject_reasons),
            "serial_duplicates": self.serial_duplicates,
            "heartbeats": self.heartbeats,
            "unknown_channels": self.unknown_channels,
            "mqtt_messages_received": self.mqtt_messages_received,
            "mqtt_messages_rejected": self.mqtt_messages_rejected,
            "mqtt_reject_reasons": dict(self.mqtt_reject_reasons),
            "mqtt_duplicates": self.mqtt_duplicates,
            "readings_accepted": self.readings_accepted,
        }
