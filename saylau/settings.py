"""Configuration from the environment, one place for all services."""
from __future__ import annotations

from functools import lru_cache

from pydantic import Field
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
    migrate_on_start: bool = True
    """Services upgrade the ingest schema at start; false: they only check it (run
    ``saylau migrate`` first) and refuse to start on a schema that needs it."""
    projection_version: str = ""
    """Overrides ``saylau.store.readsets.PROJECTION_VERSION`` (a release bumps the constant)."""
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
    log_watch_seconds: float = 2.0
    """How often ingest, the projector and the api compare the events topic's id with the one
    they verified: a topic recreated under running services is refused within this."""
    event_schema_dir: str = ""
    rate_limit_per_second: float = 2000.0
    rate_limit_burst: int = 10000
    cors_origins: str = ""
    saylau_dashboard_origins: str = ""
    """Origins of the dashboard (comma list) whose session writes a service takes besides its
    own origin's: CORS with credentials and the Origin check of session writes. ``make up``
    gives ingest the api's origin."""
    saylau_ingest_url: str = ""
    """Where the dashboard posts triage and broadcasts (ingest's URL, as the browser reaches
    it); the api tells the dashboard (``GET /v1/session``) and lets its pages connect there
    (CSP ``connect-src``). ``make up`` sets it."""
    read_cache_seconds: float = Field(default=0.5, ge=0, le=60)
    """How long the api may answer a hot read from memory while the change feed has not
    moved (``services/api/read_cache.py``); 0 turns it off."""
    saylau_checkpoint_key_file: str = ""
    """PEM file of the operator's Ed25519 key that signs chain checkpoints."""
    saylau_checkpoint_key: str = ""
    """The same key as PEM text (for secret stores that inject environment variables)."""
    checkpoint_minutes: float = 15.0
    """How often the projector (its leader) publishes a signed checkpoint, when a key is set."""
    saylau_checkpoint_public_key: str = ""
    """The operator's public key (hex) the api publishes, when it holds no private key."""
    webhook_allow_hosts: str = ""
    """Non-public webhook targets the operator allows: CIDRs, host names, ``*.domain``."""
    saylau_master_key: str = ""
    saylau_master_key_file: str = ""
    evidence_dir: str = "var/evidence"
    evidence_url: str = ""
    evidence_s3_endpoint: str = ""
    evidence_max_bytes: int = 50 * 1024 * 1024
    observer_token_hours: float = Field(default=36.0, gt=0, le=24 * 31)
    """How long an observer's sign-in token lasts (voting day and the count: 36 h)."""
    observer_signin_per_minute: int = Field(default=30, ge=0)
    """Sign-in attempts one client address may make a minute, counted by each ingest process
    (0: no limit). Behind a proxy, uvicorn's FORWARDED_ALLOW_IPS names it, so the address is
    the client's from X-Forwarded-For; else every observer shares the proxy's address."""
    saylau_silent_minutes: int = Field(default=60, ge=1, le=24 * 60)
    """A station open for voting is silent when nothing came from it for this long."""

    @property
    def dsn(self) -> str:
        return self.database_url.replace("postgresql+asyncpg://", "postgresql://")

    @property
    def ingest_url(self) -> str:
        """Where the ingest service listens (``make up`` starts it at INGEST_HOST:INGEST_PORT);
        the commands that post to it default to this."""
        return f"http://{self.ingest_host}:{self.ingest_port}"


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings()
