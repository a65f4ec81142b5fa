"""Project settings: environment (prefix ``ALLOYSCREEN_``) or the yaml file named by ``ALLOYSCREEN_CONFIG``."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, PrivateAttr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from alloyscreen.errors import AlloyscreenError


def _default_data_dir() -> Path:
    return Path.home() / ".alloyscreen"


class _YamlSource(PydanticBaseSettingsSource):
    """Values from the yaml file named by ``ALLOYSCREEN_CONFIG`` (lowest priority after defaults)."""

    def get_field_value(self, field, field_name):  # pragma: no cover - unused by __call__
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("ALLOYSCREEN_CONFIG")
        if not path:
            return {}
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except FileNotFoundError:
            raise AlloyscreenError(f"ALLOYSCREEN_CONFIG file {path!r} does not exist") from None
        if not isinstance(data, dict):
            raise AlloyscreenError(f"ALLOYSCREEN_CONFIG file {path!r} must hold a mapping of settings")
        unknown = set(data) - set(self.settings_cls.model_fields)
        if unknown:
            allowed = ", ".join(sorted(self.settings_cls.model_fields))
            raise AlloyscreenError(f"unknown setting(s) {sorted(unknown)} in {path}; allowed: {allowed}")
        return data


class Settings(BaseSettings):
    """Everything that changes between a laptop and a cluster."""

    model_config = SettingsConfigDict(env_prefix="ALLOYSCREEN_", extra="ignore", frozen=True)

    mongo_uri: str | None = Field(
        None, description="MongoDB URI (auth and TLS options included); unset: the embedded server"
    )
    db_name: str = Field("alloyscreen", description="database holding every collection")
    data_dir: Path = Field(default_factory=_default_data_dir, description="embedded database, run dirs, caches")
    server_timeout_ms: int = Field(5000, description="how long to wait for the database to answer (ms)")
    embedded_start_timeout_s: float = Field(30.0, description="how long the embedded server may take to start (s)")
    embedded_cache_size: str = Field("512M", description="WiredTiger cache of the embedded server")
    max_space_size: int = Field(20_000_000, ge=1, description="largest candidate space a campaign may stream each "
                                                             "round (candidates; about 4 minutes per round here)")
    full_ranking_max: int = Field(1_000_000, ge=0, description="largest candidate space whose every score a round "
                                                              "keeps (16 bytes per candidate in memory) and stores "
                                                              "in GridFS `rankings`; above it a round keeps and "
                                                              "stores its top slice and a fixed-size summary "
                                                              "(count, min, mean, max, histogram)")
    scratch_dir: Path | None = Field(None, description="where calculations run (e.g. a cluster's scratch); "
                                                       "unset: DATA_DIR/runs")
    _arguments: frozenset[str] = PrivateAttr(frozenset())

    def __init__(self, **values: Any) -> None:
        super().__init__(**values)
        self._arguments = frozenset(values)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, **_other_sources):
        """Order of precedence: arguments, environment, yaml file, defaults."""
        return init_settings, env_settings, _YamlSource(settings_cls)

    def source_of(self, name: str) -> str:
        """Say where setting ``name`` came from: an argument, the environment, the config file or its default."""
        variable = f"ALLOYSCREEN_{name.upper()}"
        if name in self._arguments:
            return f"the {name} argument"
        if any(key.upper() == variable for key in os.environ):  # read case-insensitively, as pydantic-settings does
            return f"environment variable {variable}"
        if name in self.model_fields_set:
            return f"{name} in {os.environ.get('ALLOYSCREEN_CONFIG', 'the ALLOYSCREEN_CONFIG file')}"
        return "its default"

    @property
    def embedded_dir(self) -> Path:
        """Directory of the embedded server: storage, pid/port file and log."""
        return self.data_dir / "db"

    @property
    def runs_dir(self) -> Path:
        """Directory where calculations run: ``scratch_dir``, or ``data_dir/runs``."""
        return self.scratch_dir or self.data_dir / "runs"


def _sources_now() -> tuple:
    """What the settings are read from: the ``ALLOYSCREEN_*`` variables, HOME and the config file's path and bytes."""
    variables = tuple(sorted((k, v) for k, v in os.environ.items() if k.upper().startswith("ALLOYSCREEN_")))
    path = os.environ.get("ALLOYSCREEN_CONFIG")
    content: bytes | None = None
    if path:
        try:
            content = Path(path).read_bytes()
        except OSError:  # Settings() says so in one line
            pass
    return variables, os.environ.get("HOME"), path and os.path.abspath(path), content


@functools.lru_cache(maxsize=1)
def _read(sources: tuple) -> Settings:
    """The settings read from ``sources`` (:func:`_sources_now`): built once while they stay the same."""
    return Settings()


def get_settings(**overrides: Any) -> Settings:
    """The settings as the environment and config file say now (read again whenever either changed)."""
    return Settings(**overrides) if overrides else _read(_sources_now())
