from pathlib import Path

import pytest

from omicsd import config
from omicsd.errors import ValidationError


def test_defaults() -> None:
    settings = config.load(environ={})
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8765)
    assert settings.identity.region == "us-east-1"
    assert settings.store_url.startswith("sqlite:///") and settings.store_url.endswith(".omicsd/omicsd.db")


def test_precedence(tmp_path: Path) -> None:
    toml = tmp_path / "omicsd.toml"
    toml.write_text('[server]\nport = 9001\nhost = "0.0.0.0"\n[identity]\nregion = "eu-west-1"\n')
    env = {"OMICSD__SERVER__PORT": "9002", "OMICSD_CONFIG": str(toml)}
    settings = config.load({"server": {"port": None}}, environ=env)
    assert settings.server.port == 9002  # env beats file
    assert settings.server.host == "0.0.0.0"  # file beats default
    assert settings.identity.region == "eu-west-1"
    assert config.load({"server": {"port": 9003}}, environ=env).server.port == 9003  # overrides beat env


def test_bool_and_errors() -> None:
    assert config.load(environ={"OMICSD__SERVER__SCHEDULER": "false"}).server.scheduler is False
    with pytest.raises(ValidationError, match=r"server\.port"):
        config.load(environ={"OMICSD__SERVER__PORT": "eighty"})
    with pytest.raises(ValidationError, match="Unknown setting"):
        config.load({"server": {"nope": 1}}, environ={})


def test_warm_driver_idle_time_is_a_non_negative_number() -> None:
    env = {"OMICSD__SERVER__WARM_DRIVERS_IDLE_SECONDS": "30"}
    assert config.load(environ=env).server.warm_drivers_idle_seconds == 30.0
    assert config.load(environ={}).server.warm_drivers_idle_seconds == 600.0
    with pytest.raises(ValidationError, match=r"warm_drivers_idle_seconds must be >= 0"):
        config.load(environ={"OMICSD__SERVER__WARM_DRIVERS_IDLE_SECONDS": "-1"})
