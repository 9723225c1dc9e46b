"""Wiring shared by the live projector and ``saylau replay``: one way to build a Projection."""
from __future__ import annotations

from pathlib import Path

from saylau.catalogue import Catalogue, catalogue
from saylau.domain.calendar import Calendars
from saylau.domain.rules import RuleConfig
from saylau.readmodels.changefeed import ChangeFeed
from saylau.readmodels.transaction import Projection
from saylau.settings import Settings


def rule_config(cfg: Settings) -> RuleConfig:
    """The alert thresholds from the settings (the same for live and replay)."""
    return RuleConfig(surge_threshold=cfg.surge_threshold,
                      surge_window_minutes=cfg.surge_window_minutes,
                      kettling_max_hours=cfg.kettling_max_hours,
                      turnout_jump_share=cfg.turnout_jump_share,
                      turnout_jump_voters=cfg.turnout_jump_voters,
                      corroboration_window_minutes=cfg.corroboration_window_minutes)


def event_catalogue(cfg: Settings) -> Catalogue:
    """The catalogue in use (EVENT_SCHEMA_DIR pins another release's schemas)."""
    return Catalogue(Path(cfg.event_schema_dir)) if cfg.event_schema_dir else catalogue()


def build_projection(cfg: Settings, schema: str, topic: str,
                     feed: ChangeFeed | None) -> Projection:
    """A Projection into ``schema`` of ``topic``; live passes a notifying feed, replay none."""
    return Projection(schema, topic, event_catalogue(cfg), Calendars.load(), rule_config(cfg),
                      feed)
