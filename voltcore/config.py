"""Settings for every Volt service, read from `VOLT_*` environment variables."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from scheduler.limits import Limit

Tier = Literal["free", "standard", "enterprise"]


class TierPolicy(BaseModel):
    """What a tier buys beyond its catalog: default rate limits (an org's ceiling unless an
    operator grants another, scheduler/limits.py), its weight in an engine's fair queue (a
    weight-2 org is served twice the tokens of a weight-1 org when both wait), and its vLLM
    `priority` (lower is scheduled first, ahead of requests of higher values already waiting)."""

    model_config = ConfigDict(extra="forbid")

    requests_per_minute: int = Field(ge=0)
    tokens_per_minute: int = Field(ge=0)
    weight: float = Field(gt=0)
    priority: int = Field(ge=0)

    @property
    def limit(self) -> Limit:
        return Limit(self.requests_per_minute, self.tokens_per_minute)


def _default_tiers() -> dict[Tier, TierPolicy]:
    # Limits on the scale of OpenAI's usage tiers 1, 3 and 5 for a small model.
    return {
        "free": TierPolicy(requests_per_minute=60, tokens_per_minute=100_000, weight=1, priority=2),
        "standard": TierPolicy(
            requests_per_minute=1_000, tokens_per_minute=2_000_000, weight=2, priority=1
        ),
        "enterprise": TierPolicy(
            requests_per_minute=10_000, tokens_per_minute=30_000_000, weight=4, priority=0
        ),
    }


_REPO = Path(__file__).resolve().parents[1]


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "volt"


class Settings(BaseSettings):
    """Configuration of a Volt process.

    Usage: `Settings()` reads the environment; tests pass fields directly.
    """

    model_config = SettingsConfigDict(env_prefix="VOLT_", extra="ignore")

    # Without a URL the embedded PostgreSQL (pgserver) runs from `data_dir / "pg"`.
    database_url: str | None = None
    data_dir: Path = Field(default_factory=_default_data_dir)
    host: str = "127.0.0.1"
    port: int = 8080

    # The base URL users and browsers reach this service at (behind a TLS proxy, its https
    # URL): device-flow verification links and OIDC redirects are built from it. Unset, each
    # request's own origin is used, which is right for the embedded default.
    public_url: str | None = None

    trust_domain: str = "volt.local"
    service_name: str = "volt-admin"
    pod: str = "volt-local-0"
    metro: str = "local1"

    # Bodies past this size get 413 before any parsing: room for long prompts and embedding
    # batches, not for a client that streams without end.
    max_body_bytes: int = 8 << 20
    # A connection without a complete request this long after it opened (or after its last
    # response) is closed: idle keep-alive connections and headers that trickle in a byte at
    # a time (slowloris) both end here. aiohttp's timer is not reset by partial data.
    idle_timeout_s: float = Field(60.0, gt=0)
    # A JSON body must arrive whole within this long (8 MiB at 140 KB/s by default): a body
    # trickled in a byte at a time is a 408, not a handler held open for good.
    body_timeout_s: float = Field(60.0, gt=0)
    # A streamed response (SSE, a file download) whose client accepts no bytes this long, once
    # the socket's buffers are full, is dropped: the engine request is aborted and metered as
    # for a disconnect, instead of a reader that never reads holding it for good.
    stall_timeout_s: float = Field(60.0, gt=0)
    # Reverse proxies (an ingress, a load balancer) whose `X-Forwarded-For` is believed, as
    # CIDRs (`VOLT_TRUSTED_PROXIES='["10.0.0.0/8"]'`). Every per-client limit keys on the
    # address they report (`voltcore.clientaddr`); from anyone else the header is ignored, so
    # a client cannot pick its own budget. Empty: the socket's peer is the client.
    trusted_proxies: list[IPv4Network | IPv6Network] = Field(default_factory=list)
    # Bearer credentials that are well formed but unknown cost a database query each: one
    # client gets this many such lookups per window, then 429 until the window moves on.
    # Keys already cached (and unknown keys already seen) cost nothing and are not limited.
    failed_auth_per_window: int = Field(30, ge=1)
    failed_auth_window_s: float = Field(60.0, gt=0)
    # `Idempotency-Key`s (Stripe's semantics) are kept this long, then the key may be reused
    # with any body; a key whose first request never finished (the process died) is taken
    # over by a retry after `idempotency_lock_timeout_s`, instead of answering 409 forever.
    idempotency_ttl_s: float = Field(24 * 3600.0, gt=0)
    idempotency_lock_timeout_s: float = Field(60.0, gt=0)
    db_pool_min: int = 1
    db_pool_max: int = 10

    # Batched writers: flush when this many events wait or this much time passed, whichever is
    # first; keep at most `*_buffer_max` events while the database is away, counting any dropped.
    flush_interval_s: float = 1.0
    flush_batch: int = 500
    audit_buffer_max: int = 100_000
    usage_buffer_max: int = 100_000

    # Per tier: default rate limits, fair-queue weight and engine priority
    # (`VOLT_TIERS='{"free": {...}, ...}'` replaces the table).
    tiers: dict[Tier, TierPolicy] = Field(default_factory=_default_tiers)

    log_level: str = "INFO"
    # The API reference served at /openapi.yaml (the repository's copy unless installed elsewhere).
    openapi_path: Path = _REPO / "openapi.yaml"
    # The model catalog (`voltcore.catalog`), one file for all three processes: the models Spark
    # serves, the base models admin accepts for fine-tuning and the worker trains.
    models_file: Path = _REPO / "models.yaml"

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pg"

    # Uploaded fine-tuning files and trained adapters, shared by admin, the fine-tuning workers
    # and Spark (a shared volume past one machine). Unset: `data_dir / "artifacts"`.
    artifact_dir: Path | None = None

    @property
    def artifacts(self) -> Path:
        return self.artifact_dir or self.data_dir / "artifacts"

    @model_validator(mode="after")
    def _artifacts_apart_from_database(self) -> Settings:
        # Tenants fill the artifact store: the embedded database's files must not live in its
        # tree (removing or sweeping artifacts would reach them, and the per-org storage limit
        # counts only artifact bytes), nor the store inside the database's own directory.
        if self.database_url is None:
            store, pg = self.artifacts.resolve(), self.pgdata.resolve()
            if store.is_relative_to(pg) or pg.is_relative_to(store):
                raise ValueError(
                    f"artifact_dir ({store}) must not be inside the database directory ({pg}) "
                    "or contain it"
                )
        return self
