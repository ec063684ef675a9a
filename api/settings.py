"""Service settings, parsed from ``PRESSLENS_*`` variables (pydantic-settings) as ``model.settings`` read them.

This extends the one settings object rather than being a second reader: the variables come from
``model.settings.environment()`` (the environment as read once), and the model layer's settings (paths,
encoder runtime, threads) are not parsed here again: ``core`` is ``model.settings.current()``, checked there
(a bad value raises ``model.settings.SettingsError``).

Nothing here touches the disk or loads a model: a ``Settings()`` object is plain configuration, built by
the CLI or a test and handed to ``create_app``.
"""

from __future__ import annotations

from collections.abc import Mapping

from presslens.model.limits import BATCH_MAX_ARTICLES, MAX_ARTICLE_CHARS
from presslens.model.settings import ModelSettings, environment
from presslens.model.settings import current as current_model_settings
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

#: the most PRESSLENS_MAX_ARTICLES may be set to (and a bound pydantic stops at before the limit is checked)
MAX_ARTICLES_CEILING = 10_000


def default_feedback_db() -> str:
    """``$XDG_DATA_HOME/presslens/feedback.sqlite3``: outside the checkout, so a fresh clone keeps it."""
    return str(current_model_settings().data_dir / "feedback.sqlite3")


class _ReadOnce(EnvSettingsSource):
    """pydantic-settings' environment source over ``model.settings.environment()`` instead of ``os.environ``."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {k if self.case_sensitive else k.lower(): v for k, v in environment().items()
                if not (self.env_ignore_empty and v == "")}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PRESSLENS_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    model: str | None = Field(None, description="stance checkpoint directory (default: the shipped model)")
    summarizer: str | None = Field(None, description="summarizer checkpoint directory")
    # The model layer's own settings (paths, encoder runtime, threads), read by model.settings from
    # PRESSLENS_HOME, PRESSLENS_CACHE_DIR, PRESSLENS_RUNTIME and PRESSLENS_THREADS: not a second reader here.
    core: ModelSettings = Field(default_factory=current_model_settings,
                                description="model layer settings (model.settings): paths, runtime, threads")
    models_dir: str | None = Field(
        None, description="folder of checkpoint directories that POST /v1/models/reload may load (nothing outside it)")

    # Security: both off unless set. The API key guards /v1/*; the admin token guards model reload.
    api_key: SecretStr | None = Field(None, description="require 'Authorization: Bearer KEY' on /v1/*")
    admin_token: SecretStr | None = Field(None, description="bearer token for admin endpoints (reload)")
    cors_origins: list[str] = Field(default_factory=list, description="allowed CORS origins (none: CORS off)")

    # Request limits: the only place they are set. The checks (and their 413 messages naming the variable),
    # /info, the published OpenAPI schema (maxLength / maxItems) and the README's table all read these.
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="largest request body accepted")
    max_articles: int = Field(64, ge=1, le=MAX_ARTICLES_CEILING, description="articles per request")
    max_chars: int = Field(MAX_ARTICLE_CHARS, ge=100,
                           description="characters per article (text or HTML; default model.limits.MAX_ARTICLE_CHARS)")
    drain_body_bytes: int = Field(
        64 * 1024 * 1024, ge=0, description="a body over max_body_bytes is read and discarded up to this size "
        "before the 413, so clients that send all of it before reading get the answer, not a connection reset")

    # Batching: requests that arrive together share one encoder pass.
    batch_max_articles: int = Field(BATCH_MAX_ARTICLES, ge=1, description="most articles merged into one model call")
    batch_max_tokens: int = Field(16_384, ge=128, description="most (estimated) tokens merged into one model call")
    batch_wait_ms: float = Field(5.0, ge=0, le=1000, description="how long the first request waits for company")
    queue_size: int = Field(64, ge=1, description="requests waiting for the model; beyond this: 503 + Retry-After")
    request_timeout_s: float = Field(120.0, gt=0, description="longest a request waits for its result")

    # Memory: see api/malloc.py. 0 leaves glibc's default (8 arenas per core).
    malloc_arenas: int = Field(2, ge=0, le=64, description="glibc malloc arenas for the server process")

    feedback_db: str = Field(default_factory=default_feedback_db,
                             description="SQLite file path, or a postgresql:// URL (needs psycopg)")

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource):
        return init_settings, _ReadOnce(settings_cls), dotenv_settings, file_secret_settings

    def limits(self) -> dict[str, int]:
        """The limits a client must respect, as /info and the OpenAPI schema publish them."""
        return {"max_body_bytes": self.max_body_bytes, "max_articles": self.max_articles, "max_chars": self.max_chars}

    @field_validator("api_key", "admin_token", mode="before")
    @classmethod
    def _empty_is_none(cls, v):
        # PRESSLENS_ADMIN_TOKEN="" must mean "off", not "the empty string is the token".
        return None if v is None or (isinstance(v, str) and not v.strip()) else v
