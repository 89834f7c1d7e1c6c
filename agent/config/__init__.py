"""Configuration: one YAML file, validated strictly, with errors that point at the line.

Import from here: :func:`load_config` returns a :class:`Config` or raises
:class:`ConfigError`, whose ``issues`` each print as ``FILE:LINE:COL: key: problem``.
"""

from __future__ import annotations

from agent.config.errors import ConfigError, ConfigIssue
from agent.config.loader import load_config, parse_config
from agent.config.schema import (
    ActuationConfig,
    AppsConfig,
    BrokerConfig,
    Config,
    DeviceConfig,
    GatewayConfig,
    GuardrailsConfig,
    MqttConfig,
    OccupancyControlConfig,
    SerialPortConfig,
    StateConfig,
    StoreConfig,
    UpstreamConfig,
    WebConfig,
)

__all__ = [
    "ActuationConfig",
    "AppsConfig",
    "BrokerConfig",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "DeviceConfig",
    "GatewayConfig",
    "GuardrailsConfig",
    "MqttConfig",
    "OccupancyControlConfig",
    "SerialPortConfig",
    "StateConfig",
    "StoreConfig",
    "UpstreamConfig",
    "WebConfig",
    "load_config",
    "parse_config",
]
