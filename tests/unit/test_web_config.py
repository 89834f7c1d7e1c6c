"""The ``web`` section: safe defaults, tokens only by hash and only for zones that exist, documented keys."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from agent.config import ConfigError, load_config
from agent.config.schema import WebConfig, WebTokenConfig
from agent.web import new_token, token_hash

REPO = Path(__file__).resolve().parents[2]
HASH = "ab" * 32
SITE = """\
gateway:
  id: gw-1
guardrails:
  zones:
    kitchen:
      actuators: {kitchen-thermostat: heating_thermostat}
"""


def load(tmp_path: Path, web: str) -> object:
    path = tmp_path / "site.yaml"
    path.write_text(SITE + textwrap.dedent(web), encoding="utf-8")
    return load_config(path)


def issue(tmp_path: Path, web: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, web)
    (only,) = caught.value.issues
    return str(only)


def test_the_page_is_off_and_local_unless_configured(tmp_path: Path) -> None:
    config = load_config(REPO / "examples" / "edgewise.yaml")
    assert config.web == WebConfig()
    assert (config.web.enabled, config.web.host, config.web.port, config.web.tokens) == (False, "127.0.0.1", 8080, [])


def test_tokens_are_given_by_hash_for_a_known_zone(tmp_path: Path) -> None:
    config = load(tmp_path, f"web:\n  enabled: true\n  port: 0\n  tokens:\n    - {{zone: kitchen, sha256: {HASH}}}\n")
    assert config.web.tokens == [WebTokenConfig(zone="kitchen", sha256=HASH)]  # type: ignore[attr-defined]
    assert config.web.port == 0  # type: ignore[attr-defined]


def test_a_token_for_an_unknown_zone_names_the_zones(tmp_path: Path) -> None:
    text = issue(tmp_path, f"web:\n  tokens:\n    - {{zone: garage, sha256: {HASH}}}\n")
    assert re.match(r".*site\.yaml:8:3: web: tokens\[0\]\.zone 'garage' is not under guardrails\.zones "
                    r"\(zones: kitchen\)", text), text


@pytest.mark.parametrize("value", ["a-plain-token", HASH.upper(), HASH[:-1], HASH + "0"])
def test_anything_but_a_hex_sha256_is_refused_so_no_token_sits_in_the_file(tmp_path: Path, value: str) -> None:
    text = issue(tmp_path, f"web:\n  tokens:\n    - {{zone: kitchen, sha256: '{value}'}}\n")
    assert "web.tokens[0].sha256" in text and "64 lower-case hex digits" in text


@pytest.mark.parametrize(
    ("web", "key"),
    [("web: {port: 65536}", "web.port"), ("web: {enabled: yes}", "web.enabled"), ("web: {host: ''}", "web.host"),
     ("web: {public_url: 'thermostat.example.org'}", "web.public_url"), ("web: {listen: x}", "web.listen")],
)
def test_bad_web_settings_are_refused_with_their_key(tmp_path: Path, web: str, key: str) -> None:
    assert f": {key}: " in issue(tmp_path, web + "\n")


def test_tokens_are_long_random_and_hashed_with_sha256() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100 and all(len(t) == 32 and re.fullmatch(r"[A-Za-z0-9_-]+", t) for t in tokens)
    assert token_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@pytest.mark.parametrize(("heading", "model"), [("`web`", WebConfig), ("`web.tokens[]`", WebTokenConfig)])
def test_docs_list_every_key(heading: str, model: type) -> None:
    text = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    section = re.split(r"^#{2,3} ", text, flags=re.MULTILINE)
    (found,) = [s for s in section if s.startswith(heading + "\n")]
    assert re.findall(r"^\| `([a-z_0-9]+)` \|", found, flags=re.MULTILINE) == list(model.model_fields)
