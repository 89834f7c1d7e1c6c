"""The shape of an edgewise configuration file, as pydantic v2 models.

Every model forbids unknown keys and validates strictly: a gateway is configured
by hand, over SSH, by someone who may not see the agent's log for days, so a
quoted ``"5"`` where a number belongs or ``on`` where ``true`` belongs is far
more likely a mistake than an intention.  The only loosening is that a whole
number is accepted wherever a decimal is.

Each field carries, besides its constraints, a short sentence saying what is
allowed (``setting(..., allowed=...)``); error messages quote it so they say
both what is wrong and how to fix it.  ``docs/configuration.md`` documents the
same fields for people.
"""

from __future__ import annotations

import re
import types
import zoneinfo
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError, PydanticUndefined

GATEWAY_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
# MQTT wildcards (#, +) and NUL cannot appear in a topic we publish or subscribe under,
# and a leading or trailing "/" would create an empty topic level.
TOPIC_PATTERN = r"^[^#+/\x00]([^#+\x00]*[^#+/\x00])?$"
STANDARD_BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)
QOS_LEVELS = (0, 1, 2)
LogLevel = Literal["debug", "info", "warning", "error"]

DEFAULT_DATABASE = "/var/lib/edgewise/edgewise.db"
PORT_ALLOWED = "an integer 1–65535"
TOPIC_ALLOWED = "a non-empty MQTT topic without wildcards (# +) or a leading or trailing /"


def setting(default: Any = PydanticUndefined, *, allowed: str, **constraints: Any) -> Any:
    """A model field whose error messages can say what is allowed."""
    return Field(default, json_schema_extra={"allowed": allowed}, **constraints)


def _one_of(choices: Sequence[int]) -> Callable[[int], int]:
    """An after-validator for integer choices (``Literal`` would let ``true`` pass as 1)."""

    def check(value: int) -> int:
        if value not in choices:
            raise PydanticCustomError("not_one_of", "{value} is not one of the allowed values", {"value": value})
        return value

    return check


Baudrate = Annotated[int, AfterValidator(_one_of(STANDARD_BAUDRATES))]
Qos = Annotated[int, AfterValidator(_one_of(QOS_LEVELS))]
NonEmptyStr = Annotated[str, Field(min_length=1)]


class Section(BaseModel):
    """Base of every configuration model: unknown keys and loose types are errors."""

    model_config = ConfigDict(extra="forbid", strict=True)


class GatewayConfig(Section):
    """Who this gateway is (its id appears in MQTT topics) and where it keeps its data."""

    id: str = setting(
        allowed="1–64 characters of a-z, 0-9, _ and -, starting with a letter or digit",
        pattern=GATEWAY_ID_PATTERN,
    )
    database: str = setting(DEFAULT_DATABASE, allowed="a file path", min_length=1)
    log_level: LogLevel = setting("info", allowed="one of debug, info, warning, error")


class SerialPortConfig(Section):
    """One serial radio dongle."""

    name: str = setting(allowed="a non-empty name, unique among serial ports", min_length=1)
    port: str = setting(allowed="a device path such as /dev/ttyUSB0", min_length=1)
    baudrate: Baudrate = setting(115200, allowed="one of " + ", ".join(map(str, STANDARD_BAUDRATES)))
    ack: bool = setting(True, allowed="true or false; YAML 1.2 reads on, off, yes and no as text")


class BrokerConfig(Section):
    """What both MQTT connections (local devices, upstream) need to reach a broker."""

    host: str = setting("127.0.0.1", allowed="a host name or IP address", min_length=1)
    port: int = setting(1883, allowed=PORT_ALLOWED, ge=1, le=65535)
    username: str | None = setting(None, allowed="a string, or leave the key out", min_length=1)
    password: str | None = setting(None, allowed="a string, together with a username")

    @field_validator("password")
    @classmethod
    def _password_needs_username(cls, password: str | None, info: ValidationInfo) -> str | None:
        # MQTT only sends a password after a username; alone it would be silently dropped.
        if password is not None and "username" in info.data and info.data["username"] is None:
            raise PydanticCustomError("password_without_username", "a password is set but no username")
        return password


class MqttConfig(BrokerConfig):
    """The local broker where Zigbee2MQTT publishes device state."""

    base_topic: str = setting("zigbee2mqtt", allowed=TOPIC_ALLOWED, pattern=TOPIC_PATTERN)
    client_id: str | None = setting(None, allowed="a non-empty string, or leave the key out", min_length=1)
    keepalive_s: int = setting(30, allowed="a whole number of seconds, 1–65535", ge=1, le=65535)


class UpstreamConfig(BrokerConfig):
    """The remote broker that receives this gateway's readings."""

    host: str = setting(allowed="a host name or IP address", min_length=1)
    topic_prefix: str = setting("edgewise", allowed=TOPIC_ALLOWED, pattern=TOPIC_PATTERN)
    qos: Qos = setting(1, allowed="0, 1 or 2")
    batch_size: int = setting(100, allowed="an integer 1–10000", ge=1, le=10_000)
    linger_s: float = setting(0.5, allowed="a number of seconds 0–60", ge=0, le=60, allow_inf_nan=False)
    outbox_max_rows: int = setting(1_000_000, allowed="an integer ≥ 1", ge=1)
    reconnect_initial_s: float = setting(1.0, allowed="a number of seconds > 0", gt=0, allow_inf_nan=False)
    reconnect_max_s: float = setting(
        60.0,
        allowed="a number of seconds ≥ reconnect_initial_s",
        gt=0,
        allow_inf_nan=False,
        validate_default=True,
    )

    @field_validator("reconnect_max_s")
    @classmethod
    def _max_not_below_initial(cls, maximum: float, info: ValidationInfo) -> float:
        initial = info.data.get("reconnect_initial_s")
        if initial is not None and maximum < initial:
            raise PydanticCustomError(
                "reconnect_order",
                "must be at least reconnect_initial_s = {initial}, got {maximum}",
                {"initial": initial, "maximum": maximum},
            )
        return maximum


class StateConfig(Section):
    """The in-memory view of every point: rolling window and staleness."""

    window: int = setting(120, allowed="an integer 2–100000, readings kept per point", ge=2, le=100_000)
    stale_after_s: float = setting(900.0, allowed="a number of seconds > 0", gt=0, allow_inf_nan=False)
    check_interval_s: float = setting(60.0, allowed="a number of seconds > 0", gt=0, allow_inf_nan=False)


class StoreConfig(Section):
    """How readings are batched into SQLite transactions."""

    batch_max: int = setting(2000, allowed="an integer 1–100000, readings per transaction", ge=1, le=100_000)
    flush_interval_s: float = setting(
        0.05, allowed="a number of seconds > 0 and ≤ 10", gt=0, le=10, allow_inf_nan=False
    )


class DeviceConfig(Section):
    """Human annotations for one device; neither changes what is ingested."""

    room: str | None = setting(None, allowed="a string, or leave the key out")
    name: str | None = setting(None, allowed="a string, or leave the key out")


ACTUATOR_KINDS = (
    "thermostat", "heating_thermostat", "cooling_thermostat", "hvac_switch", "switch", "fan", "sensor_node"
)
ACTUATOR_KINDS_ALLOWED = "one of " + ", ".join(ACTUATOR_KINDS)


def _actuator_kind(value: str) -> str:
    """An after-validator naming the kinds (a ``Literal`` error would not list them)."""
    if value not in ACTUATOR_KINDS:
        raise PydanticCustomError(
            "not_an_actuator_kind", "'{value}' is not a kind of actuator; use " + ACTUATOR_KINDS_ALLOWED,
            {"value": value},
        )
    return value


ActuatorKind = Annotated[str, AfterValidator(_actuator_kind)]
SERIAL_NODE_PATTERN = r"^node-[0-9]{4,5}$"
POINT_PATTERN = re.compile(r"^[^/]+/[^/]+$")


def _point(value: str) -> str:
    """An after-validator for a point name, saying how one is written."""
    if not POINT_PATTERN.match(value):
        raise PydanticCustomError(
            "not_a_point", "'{value}' is not a point; write device/channel, e.g. node-0001/temperature",
            {"value": value},
        )
    return value


Point = Annotated[str, AfterValidator(_point)]
CELSIUS = "a temperature in °C"


class RangeConfig(Section):
    """A closed range of temperatures, ``min`` ≤ ``max``."""

    min: float = setting(allowed=CELSIUS, allow_inf_nan=False)
    max: float = setting(allowed=f"{CELSIUS}, at least min", allow_inf_nan=False)

    @field_validator("max")
    @classmethod
    def _max_not_below_min(cls, maximum: float, info: ValidationInfo) -> float:
        minimum = info.data.get("min")
        if minimum is not None and maximum < minimum:
            raise PydanticCustomError(
                "range_order", "must be at least min = {minimum}, got {maximum}",
                {"minimum": minimum, "maximum": maximum},
            )
        return maximum


def _celsius_range(low: float, high: float) -> Any:
    return setting(default_factory=lambda: RangeConfig(min=low, max=high), allowed="a mapping with min and max in °C")


class ZoneLimitsConfig(Section):
    """Setpoint limits of one zone; the defaults are ASHRAE Guideline 36's (see docs/guardrails.md)."""

    heating_c: RangeConfig = _celsius_range(18.0, 22.0)
    cooling_c: RangeConfig = _celsius_range(22.0, 27.0)
    setback_heating_c: float = setting(
        16.0, allowed="a temperature in °C, at most heating_c.min", allow_inf_nan=False, validate_default=True
    )
    setback_cooling_c: float = setting(
        32.0, allowed="a temperature in °C, at least cooling_c.max", allow_inf_nan=False, validate_default=True
    )
    deadband_c: float = setting(
        0.5, allowed="kelvin 0–10 that every heating setpoint of the zone stays below every cooling setpoint",
        ge=0, le=10, allow_inf_nan=False, validate_default=True,
    )
    """G36 keeps the heating setpoint at least 0.5 K below the cooling setpoint."""

    @field_validator("setback_heating_c")
    @classmethod
    def _setback_heating_not_above_occupied(cls, value: float, info: ValidationInfo) -> float:
        heating = info.data.get("heating_c")
        if heating is not None and value > heating.min:
            raise PydanticCustomError(
                "setback_order", "must be at most heating_c.min = {limit}, got {value}",
                {"limit": heating.min, "value": value},
            )
        return value

    @field_validator("setback_cooling_c")
    @classmethod
    def _setback_cooling_not_below_occupied(cls, value: float, info: ValidationInfo) -> float:
        cooling = info.data.get("cooling_c")
        if cooling is not None and value < cooling.max:
            raise PydanticCustomError(
                "setback_order", "must be at least cooling_c.max = {limit}, got {value}",
                {"limit": cooling.max, "value": value},
            )
        return value


    @field_validator("deadband_c")
    @classmethod
    def _deadband_leaves_room(cls, value: float, info: ValidationInfo) -> float:
        heating, cooling = info.data.get("heating_c"), info.data.get("cooling_c")
        if heating is not None and cooling is not None and heating.min + value > cooling.max:
            raise PydanticCustomError(
                "deadband_room", "leaves no heating setpoint in {heating} °C {deadband} K below a cooling setpoint"
                " in {cooling} °C", {"heating": f"{heating.min:g}–{heating.max:g}", "deadband": f"{value:g}",
                                    "cooling": f"{cooling.min:g}–{cooling.max:g}"},
            )
        return value


class ZoneConfig(Section):
    """One zone (usually a room): the points that must stay fresh and the devices that may be commanded."""

    sensors: list[Point] = setting(
        default_factory=list, allowed="a list of points (device/channel), e.g. [node-0001/temperature]"
    )
    actuators: dict[NonEmptyStr, ActuatorKind] = setting(
        default_factory=dict, allowed=f"a mapping of device id to its kind, {ACTUATOR_KINDS_ALLOWED}"
    )
    limits: ZoneLimitsConfig = setting(default_factory=ZoneLimitsConfig, allowed="a mapping")

    @field_validator("actuators")
    @classmethod
    def _serial_nodes_are_named_by_id(cls, actuators: dict[str, str]) -> dict[str, str]:
        for device, kind in actuators.items():
            if kind == "sensor_node" and not re.match(SERIAL_NODE_PATTERN, device):
                raise PydanticCustomError(
                    "sensor_node_name", "sensor_node '{device}' must be named node-<4 or 5 digits>", {"device": device}
                )
        return actuators


class HvacTimingConfig(Section):
    """Anti-short-cycle limits for every ``hvac_switch``."""

    min_on_s: float = setting(300.0, allowed="a number of seconds 0–86400", ge=0, le=86_400, allow_inf_nan=False)
    min_off_s: float = setting(300.0, allowed="a number of seconds 0–86400", ge=0, le=86_400, allow_inf_nan=False)
    max_starts_per_hour: int = setting(6, allowed="an integer 1–60", ge=1, le=60)


class RateLimitConfig(Section):
    """At most ``commands`` commands per device in any ``window_s`` seconds."""

    commands: int = setting(6, allowed="an integer 1–1000", ge=1, le=1000)
    window_s: float = setting(
        300.0, allowed="a number of seconds > 0 and ≤ 86400", gt=0, le=86_400, allow_inf_nan=False
    )


class SafeScheduleConfig(Section):
    """What the fail-safe holds a zone at while its sensors are silent (G36 default setpoints)."""

    occupied_from_h: float = setting(7.0, allowed="an hour of the day 0–24", ge=0, le=24, allow_inf_nan=False)
    occupied_until_h: float = setting(
        19.0, allowed="an hour of the day 0–24, after occupied_from_h", ge=0, le=24, allow_inf_nan=False,
        validate_default=True,
    )
    weekdays_only: bool = setting(True, allowed="true (Monday–Friday) or false (every day)")
    heating_c: float = setting(21.0, allowed=CELSIUS, allow_inf_nan=False)
    setback_heating_c: float = setting(16.0, allowed=CELSIUS, allow_inf_nan=False)
    cooling_c: float = setting(24.0, allowed=CELSIUS, allow_inf_nan=False)
    setback_cooling_c: float = setting(32.0, allowed=CELSIUS, allow_inf_nan=False)

    @field_validator("occupied_until_h")
    @classmethod
    def _until_after_from(cls, until: float, info: ValidationInfo) -> float:
        start = info.data.get("occupied_from_h")
        if start is not None and until <= start:
            raise PydanticCustomError(
                "schedule_order", "must be after occupied_from_h = {start}, got {until}",
                {"start": start, "until": until},
            )
        return until


class GuardrailsConfig(Section):
    """The rules every command passes (docs/guardrails.md).  A device in no zone cannot be commanded."""

    absolute_c: RangeConfig = _celsius_range(7.0, 35.0)
    stale_after_s: float = setting(900.0, allowed="a number of seconds > 0", gt=0, allow_inf_nan=False)
    override_hold_s: float = setting(14_400.0, allowed="a number of seconds > 0", gt=0, allow_inf_nan=False)
    max_override_hold_s: float = setting(
        86_400.0, allowed="a number of seconds ≥ override_hold_s", gt=0, allow_inf_nan=False, validate_default=True
    )
    timezone: str = setting(
        "UTC", allowed="an IANA time zone name such as Europe/Berlin (for the safe schedule)", validate_default=True
    )
    hvac: HvacTimingConfig = setting(default_factory=HvacTimingConfig, allowed="a mapping")
    rate_limit: RateLimitConfig = setting(default_factory=RateLimitConfig, allowed="a mapping")
    safe_schedule: SafeScheduleConfig = setting(default_factory=SafeScheduleConfig, allowed="a mapping")
    zones: dict[NonEmptyStr, ZoneConfig] = setting(
        default_factory=dict, allowed="a mapping of zone name to {sensors, actuators, limits}", validate_default=True
    )

    @field_validator("max_override_hold_s")
    @classmethod
    def _max_hold_not_below_default(cls, maximum: float, info: ValidationInfo) -> float:
        default = info.data.get("override_hold_s")
        if default is not None and maximum < default:
            raise PydanticCustomError(
                "hold_order", "must be at least override_hold_s = {default}, got {maximum}",
                {"default": default, "maximum": maximum},
            )
        return maximum

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        if name != "UTC":
            try:
                zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise PydanticCustomError(
                    "unknown_timezone", "'{name}' is not a known time zone", {"name": name}
                ) from None
        return name

    @field_validator("zones")
    @classmethod
    def _zones_fit_the_absolute_limits(
        cls, zones: dict[str, ZoneConfig], info: ValidationInfo
    ) -> dict[str, ZoneConfig]:
        absolute = info.data.get("absolute_c")
        owner: dict[str, str] = {}
        for name, zone in zones.items():
            for device in zone.actuators:
                if device in owner:
                    raise PydanticCustomError(
                        "actuator_in_two_zones", "device '{device}' is in zones '{first}' and '{second}'",
                        {"device": device, "first": owner[device], "second": name},
                    )
                owner[device] = name
            if absolute is not None:
                _check_within_absolute(name, zone.limits, absolute)
        return zones


def _check_within_absolute(zone: str, limits: ZoneLimitsConfig, absolute: RangeConfig) -> None:
    """Zone limits beyond the absolute ones would be silently cut; say so instead."""
    bounds = {
        "heating_c.max": limits.heating_c.max, "cooling_c.min": limits.cooling_c.min,
        "setback_heating_c": limits.setback_heating_c, "setback_cooling_c": limits.setback_cooling_c,
    }
    for key, value in bounds.items():
        if not absolute.min <= value <= absolute.max:
            raise PydanticCustomError(
                "outside_absolute", "zones.{zone}.limits.{key} = {value} is outside absolute_c ({low}–{high})",
                {"zone": zone, "key": key, "value": value, "low": absolute.min, "high": absolute.max},
            )


class ActuationConfig(Section):
    """How commands are delivered and confirmed.  Timeouts are wall-clock time: they model the radio."""

    serial_ack_timeout_s: float = setting(
        2.0, allowed="a number of seconds > 0 and ≤ 60", gt=0, le=60, allow_inf_nan=False
    )
    serial_retries: int = setting(3, allowed="an integer 0–10", ge=0, le=10)
    zigbee_confirm_timeout_s: float = setting(
        15.0, allowed="a number of seconds > 0 and ≤ 600", gt=0, le=600, allow_inf_nan=False
    )
    zigbee_retries: int = setting(1, allowed="an integer 0–10", ge=0, le=10)
    setpoint_tolerance_c: float = setting(
        0.1, allowed="a number of °C ≥ 0 and ≤ 1", ge=0, le=1, allow_inf_nan=False
    )


class DcvConfig(Section):
    """Demand-controlled ventilation while a room is occupied (CO2 hysteresis)."""

    co2_high_ppm: float = setting(900.0, allowed="a CO2 level in ppm, 400–5000", ge=400, le=5000, allow_inf_nan=False)
    co2_low_ppm: float = setting(
        700.0, allowed="a CO2 level in ppm, 400–5000, below co2_high_ppm", ge=400, le=5000, allow_inf_nan=False,
        validate_default=True,
    )

    @field_validator("co2_low_ppm")
    @classmethod
    def _low_below_high(cls, low: float, info: ValidationInfo) -> float:
        high = info.data.get("co2_high_ppm")
        if high is not None and low >= high:
            raise PydanticCustomError(
                "dcv_order", "must be below co2_high_ppm = {high}, got {low}", {"high": high, "low": low}
            )
        return low


class OccupancyControlConfig(Section):
    """Occupancy-based control of heating, ventilation and lights (docs/occupancy-control.md)."""

    enabled: bool = setting(False, allowed="true or false")
    model: str = setting(
        "no_light",
        allowed="a shipped model (all, no_light, no_light_no_time) or the path of a model file",
    )
    zones: list[NonEmptyStr] = setting(
        default_factory=list, allowed="a list of zone names from guardrails.zones (empty: every zone with a thermostat)"
    )
    occupied_setpoint_c: float = setting(21.0, allowed=CELSIUS, allow_inf_nan=False)
    standby_offset_k: float = setting(
        2.0, allowed="kelvin 0–5 below the occupied setpoint while a room is empty in scheduled hours",
        ge=0, le=5, allow_inf_nan=False,
    )
    unoccupied_setpoint_c: float = setting(16.0, allowed=CELSIUS, allow_inf_nan=False)
    vacancy_delay_s: float = setting(
        900.0, allowed="seconds 0–7200 a room must look empty before it is set back", ge=0, le=7200,
        allow_inf_nan=False,
    )
    lights_off_after_s: float = setting(
        600.0, allowed="seconds 0–86400 a room must look empty before its lights are switched off", ge=0,
        le=86_400, allow_inf_nan=False,
    )
    preheat_max_s: float = setting(
        10_800.0, allowed="seconds 0–43200: the earliest warm-up start before the schedule", ge=0, le=43_200,
        allow_inf_nan=False,
    )
    warmup_k_per_h: float = setting(
        2.0, allowed="a heating rate in K/h > 0 until the room's own is learned", gt=0, le=20, allow_inf_nan=False
    )
    dcv: DcvConfig = setting(default_factory=DcvConfig, allowed="a mapping")


class FaultDetectionConfig(Section):
    """Daily fault detection on the stored readings, ranked by wasted energy (docs/faults.md)."""

    enabled: bool = setting(False, allowed="true or false")
    hour: int = setting(2, allowed="a whole hour 0–23 of the local day (guardrails.timezone)", ge=0, le=23)
    window_days: int = setting(
        28, allowed="a whole number of days 9–365: the history each run reads (the first 7 days train)",
        ge=9, le=365,
    )
    outdoor: Point | None = setting(
        None,
        allowed="the point of an outdoor temperature sensor (device/channel), or leave the key out "
        "(the thermal model then has insufficient data)",
    )
    rules: str | None = setting(
        None, allowed="the path of a YAML rule file, or leave the key out for the shipped rules", min_length=1
    )
    hold_s: float = setting(
        4500.0, allowed="seconds 0–86400 a reported value stands for until the next report (0: only intervals "
        "with a report have a value)", ge=0, le=86_400, allow_inf_nan=False,
    )
    """Devices that report on change are silent while nothing changes: Zigbee2MQTT's usual maximum
    reporting interval is an hour; the default adds one 15-minute interval of slack."""


class AppsConfig(Section):
    """The apps the agent runs; each acts only through the guardrails."""

    occupancy_control: OccupancyControlConfig = setting(default_factory=OccupancyControlConfig, allowed="a mapping")
    fault_detection: FaultDetectionConfig = setting(default_factory=FaultDetectionConfig, allowed="a mapping")


SHA256_PATTERN = r"^[0-9a-f]{64}$"


class WebTokenConfig(Section):
    """A thermostat-page token given in the file, by its hash (the file never holds the token itself)."""

    zone: str = setting(allowed="a zone name under guardrails.zones", min_length=1)
    sha256: str = setting(
        allowed="the token's SHA-256 as 64 lower-case hex digits (edgewise token --for-config prints it)",
        pattern=SHA256_PATTERN,
    )


class WebConfig(Section):
    """The occupants' thermostat page (docs/thermostat.md); off unless enabled."""

    enabled: bool = setting(False, allowed="true or false")
    host: str = setting(
        "127.0.0.1", allowed="an IP address or host name to listen on (127.0.0.1: this machine only)", min_length=1
    )
    port: int = setting(8080, allowed="an integer 0–65535; 0 picks any free port", ge=0, le=65535)
    public_url: str | None = setting(
        None,
        allowed="the page's address as occupants reach it, e.g. https://thermostat.example.org, or leave the key out",
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
    )
    tokens: list[WebTokenConfig] = setting(
        default_factory=list, allowed="a list of mappings with zone and sha256"
    )


NODE_TYPE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"


def _positive(default: float, allowed: str) -> Any:
    return setting(default, allowed=allowed, gt=0, allow_inf_nan=False)


def _non_negative(default: float, allowed: str) -> Any:
    return setting(default, allowed=allowed, ge=0, allow_inf_nan=False)


class EnergyNodeTypeConfig(Section):
    """One kind of light-harvesting node (docs/energy-harvesting.md); defaults are Ember's (SenSys 2020)."""

    capacitance_f: float = _positive(1.5, "farads > 0")
    v_max: float = _positive(5.5, "volts above v_restart: the capacitor is full")
    v_cutoff: float = _positive(2.3, "volts > 0: the node browns out at or below this")
    v_restart: float = _positive(3.0, "volts above v_cutoff: a browned-out node restarts above this")
    v_initial: float = setting(
        3.5, allowed="volts above v_cutoff, at most v_max: at the start of a simulation", gt=0, allow_inf_nan=False,
        validate_default=True,
    )
    harvest_v: float = _positive(1.5, "volts > 0 of the harvester at harvest_ref_lux")
    harvest_ua: float = _non_negative(33.3, "µA ≥ 0 of the harvester at harvest_ref_lux")
    harvest_ref_lux: float = _positive(200.0, "lux > 0; harvest power is linear in lux through this point")
    sleep_ua: float = _non_negative(3.45, "µA ≥ 0 drawn whenever the node is on")
    pir_ua: float = _non_negative(102.0, "µA ≥ 0 of a PIR sensing burst")
    pir_event_s: float = _non_negative(2.5, "seconds ≥ 0 of PIR burst per event")
    radio_ua: float = _non_negative(65.0, "µA ≥ 0 of a report's first radio phase")
    radio_s: float = _non_negative(11.0, "seconds ≥ 0 of a report's first radio phase")
    radio_tx_ua: float = _non_negative(300.0, "µA ≥ 0 of a report's transmit phase")
    radio_tx_s: float = _non_negative(5.0, "seconds ≥ 0 of a report's transmit phase")

    @field_validator("v_initial")
    @classmethod
    def _voltages_ordered(cls, v_initial: float, info: ValidationInfo) -> float:
        cutoff, restart, top = (info.data.get(k) for k in ("v_cutoff", "v_restart", "v_max"))
        if None in (cutoff, restart, top):
            return v_initial
        if not (cutoff < restart < top and cutoff < v_initial <= top):
            raise PydanticCustomError(
                "voltage_order",
                "need v_cutoff < v_restart < v_max and v_cutoff < v_initial ≤ v_max, got {cutoff}, {restart}, "
                "{top}, {initial}",
                {"cutoff": cutoff, "restart": restart, "top": top, "initial": v_initial},
            )
        return v_initial


ScheduleAppPolicy = Literal["learned", "greedy", "fixed"]


class EnergyHarvestingConfig(Section):
    """Energy-budgeted sensing of light-harvesting nodes (docs/energy-harvesting.md)."""

    policy_file: str | None = setting(
        None, allowed="the path of a trained policy table, or leave the key out for the shipped one", min_length=1
    )
    decision_interval_s: float = setting(
        3600.0, allowed="seconds 60–86400 between scheduling decisions", ge=60, le=86_400, allow_inf_nan=False
    )
    node_types: dict[Annotated[str, Field(pattern=NODE_TYPE_PATTERN)], EnergyNodeTypeConfig] = setting(
        default_factory=lambda: {"ember": EnergyNodeTypeConfig()},
        allowed="a mapping of node type name (lower-case letters, digits, _ and -) to its parameters",
    )
    policy: ScheduleAppPolicy = setting(
        "learned", allowed="learned (the policy table), greedy (voltage thresholds) or fixed (PIR on, 15-min reports)"
    )
    nodes: dict[Annotated[str, Field(pattern=SERIAL_NODE_PATTERN)], str] = setting(
        default_factory=dict, validate_default=True,
        allowed="a mapping of serial node (node-<4 or 5 digits>) to its type under node_types; these are scheduled",
    )

    @field_validator("nodes")
    @classmethod
    def _node_types_known(cls, nodes: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        types = info.data.get("node_types")
        if types is None:
            return nodes
        for device, node_type in nodes.items():
            if node_type not in types:
                raise PydanticCustomError(
                    "unknown_node_type", "{device}: node type '{node_type}' is not under node_types (known: {known})",
                    {"device": device, "node_type": node_type, "known": ", ".join(types) or "none"},
                )
        return nodes


class Config(Section):
    """A whole edgewise configuration file."""

    gateway: GatewayConfig = setting(allowed="a mapping with at least the key id")
    serial: list[SerialPortConfig] = setting(
        default_factory=list, allowed="a list of serial ports (mappings with name, port, baudrate, ack)"
    )
    mqtt: MqttConfig | None = setting(None, allowed="a mapping, or leave the section out for no MQTT ingest")
    upstream: UpstreamConfig | None = setting(
        None, allowed="a mapping with at least host, or leave the section out for no upstream"
    )
    state: StateConfig = setting(default_factory=StateConfig, allowed="a mapping")
    store: StoreConfig = setting(default_factory=StoreConfig, allowed="a mapping")
    devices: dict[NonEmptyStr, DeviceConfig] = setting(
        default_factory=dict, allowed="a mapping of device id to {room, name}"
    )
    guardrails: GuardrailsConfig = setting(default_factory=GuardrailsConfig, allowed="a mapping")
    actuation: ActuationConfig = setting(default_factory=ActuationConfig, allowed="a mapping")
    apps: AppsConfig = setting(default_factory=AppsConfig, allowed="a mapping")
    web: WebConfig = setting(default_factory=WebConfig, allowed="a mapping")
    energy_harvesting: EnergyHarvestingConfig = setting(default_factory=EnergyHarvestingConfig, allowed="a mapping")

    @field_validator("web")
    @classmethod
    def _web_tokens_name_zones(cls, web: WebConfig, info: ValidationInfo) -> WebConfig:
        guardrails = info.data.get("guardrails")
        if guardrails is None:
            return web
        for index, token in enumerate(web.tokens):
            if token.zone not in guardrails.zones:
                raise PydanticCustomError(
                    "unknown_zone", "tokens[{index}].zone '{zone}' is not under guardrails.zones (zones: {known})",
                    {"index": index, "zone": token.zone, "known": ", ".join(guardrails.zones) or "none"},
                )
        return web

    @field_validator("energy_harvesting")
    @classmethod
    def _scheduled_nodes_are_actuators(
        cls, energy: EnergyHarvestingConfig, info: ValidationInfo
    ) -> EnergyHarvestingConfig:
        """A scheduled node no zone lists could never be commanded (the guardrails deny it): say so now."""
        guardrails = info.data.get("guardrails")
        if guardrails is None:
            return energy
        listed = {
            device for zone in guardrails.zones.values() for device, kind in zone.actuators.items()
            if kind == "sensor_node"
        }
        for device in energy.nodes:
            if device not in listed:
                raise PydanticCustomError(
                    "unlisted_node",
                    "nodes.{device} is not a sensor_node actuator of any zone under guardrails.zones",
                    {"device": device},
                )
        return energy

    @field_validator("serial")
    @classmethod
    def _serial_names_unique(cls, ports: list[SerialPortConfig]) -> list[SerialPortConfig]:
        first_index: dict[str, int] = {}
        for index, port in enumerate(ports):
            if port.name in first_index:
                raise PydanticCustomError(
                    "duplicate_name",
                    "name '{name}' is already used by serial[{first}]",
                    {"name": port.name, "first": first_index[port.name], "index": index},
                )
            first_index[port.name] = index
        return ports


def allowed_at(loc: Sequence[str | int]) -> str:
    """What the schema allows at ``loc`` (a pydantic error location), in words."""
    resolved = _resolve(loc)
    if resolved is None:
        return ""
    annotation, field = resolved
    extra = field.json_schema_extra if field is not None else None
    if isinstance(extra, dict) and isinstance(extra.get("allowed"), str):
        return str(extra["allowed"])
    model = _model_of(annotation)
    if model is not None:
        return "a mapping with keys " + ", ".join(model.model_fields)
    if annotation is str:
        return "a non-empty string"
    return ""


def known_keys_at(loc: Sequence[str | int]) -> list[str]:
    """The keys the mapping at ``loc`` may contain (empty if it is not a model)."""
    resolved = _resolve(loc)
    model = _model_of(resolved[0]) if resolved is not None else None
    return list(model.model_fields) if model is not None else []


def _resolve(loc: Sequence[str | int]) -> tuple[Any, FieldInfo | None] | None:
    """Walk the models along ``loc``; return the annotation there and its field, if any."""
    if loc and loc[-1] == "[key]":  # pydantic reports a bad mapping key as (..., key, "[key]")
        parent = _resolve(loc[:-2])
        if parent is None or get_origin(parent[0]) is not dict:
            return None
        return _strip_optional(get_args(parent[0])[0]), None
    annotation: Any = Config
    field: FieldInfo | None = None
    for step in loc:
        annotation = _strip_optional(annotation)
        model = _model_of(annotation)
        origin = get_origin(annotation)
        if model is not None and isinstance(step, str) and step in model.model_fields:
            field = model.model_fields[step]
            annotation = field.annotation
        elif origin is list:
            annotation, field = get_args(annotation)[0], None
        elif origin is dict:
            annotation, field = get_args(annotation)[1], None
        else:
            return None
    return _strip_optional(annotation), field


def _strip_optional(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _strip_optional(members[0])
    return annotation


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None
