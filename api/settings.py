"""Service settings, read from ``PRESSLENS_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PRESSLENS_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    model: str | None = Field(None, description="stance checkpoint directory (default: the shipped model)")
    summarizer: str | None = Field(None, description="summarizer checkpoint directory")
    max_articles: int = Field(64, ge=1, description="articles per request")
    max_chars: int = Field(100_000, ge=1, description="characters per article")
