"""Configuration from the environment, one place for all services."""
from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob, with defaults that work on a developer machine."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:19092"
    database_url: str = "postgresql://saylau@127.0.0.1:15432/saylau"
    events_topic: str = "saylau.events"
    dead_letter_topic: str = "saylau.events.dlq"
    events_partitions: int = 6
    kafka_replication: int | None = None
    """Topics' replication factor; unset: min(3, brokers in the cluster)."""
    kafka_min_isr: int | None = None
    """Topics' min.insync.replicas; unset: 2 when the replication factor is 3 or more, else 1."""
    read_schema: str = "live"
    ingest_schema: str = "ingest"
    saylau_api_keys: str = ""
    ingest_host: str = "127.0.0.1"
    ingest_port: int = 8080
    api_host: str = "127.0.0.1"
    api_port: int = 8081
    projector_group: str = "saylau-projector"
    projector_batch: int = 1000
    projector_batch_seconds: float = 0.05
    surge_threshold: int = 20
    surge_window_minutes: int = 60
    kettling_max_hours: float = 3.0
    turnout_jump_share: float = 0.15
    turnout_jump_voters: int = 300
    corroboration_window_minutes: int = 30
    public_read: bool = False
    projector_metrics_port: int = 0
    projector_ready_seconds: float = 10.0
    event_schema_dir: str = ""
    rate_limit_per_second: float = 100.0
    rate_limit_burst: int = 200
    cors_origins: str = ""
    saylau_master_key: str = ""
    saylau_master_key_file: str = ""

    @property
    def dsn(self) -> str:
        return self.database_url.replace("postgresql+asyncpg://", "postgresql://")


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings()
