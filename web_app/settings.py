"""The web app's settings, read from `WEB_APP_*` environment variables.

Built once at the entry point (`wsgi.py`, `__main__.py`) and passed to
`create_app`; nothing else reads the environment.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WEB_APP_", extra="ignore", frozen=True, protected_namespaces=()
    )

    model_url: str = Field(
        default="http://127.0.0.1:8080",
        description="Base URL of the model service; the app calls /invocations, /metadata and /ping under it.",
    )
    connect_timeout: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="Seconds to wait for the endpoint to accept a connection.",
    )
    read_timeout: float = Field(
        default=15.0,
        gt=0,
        le=600,
        description="Seconds to wait for the endpoint's answer once the request is sent.",
    )
    retry_seconds: float = Field(
        default=30.0,
        ge=0,
        le=120,
        description=(
            "How long to keep trying again while the endpoint cannot be reached (no such host, "
            "connection refused or not accepted in time) or answers 503 (model still loading), "
            "as during a model swap or a restart of the model container; 0 turns retries off. "
            "30 s because a swap on a loaded machine took longer than 15 s."
        ),
    )
    retry_backoff: float = Field(
        default=0.25,
        ge=0,
        le=5,
        description="First pause between attempts, in seconds; it doubles after each one, up to retry_max_pause.",
    )
    retry_max_pause: float = Field(
        default=1.0,
        gt=0,
        le=10,
        description="Longest pause between two attempts, in seconds (a 503's Retry-After may ask for up to 5 s).",
    )
    retry_max_attempts: int = Field(
        default=40,
        ge=1,
        le=1000,
        description="Most attempts for one call, retries included, whatever the time left.",
    )
    upload_max_bytes: int = Field(
        default=2_000_000, ge=1_000, description="Largest batch CSV upload accepted, in bytes."
    )
    batch_max_rows: int = Field(
        default=10_000, ge=1, description="Most data rows in one batch upload."
    )
    metadata_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=3600,
        description="How long the model card from /metadata is reused; a swapped model shows after this.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description=(
            "Signs the session cookie (CSRF tokens) and batch downloads. Set it whenever more "
            "than one process serves the app; without it each process makes a random one."
        ),
    )

    model_token: SecretStr | None = Field(
        default=None,
        description=(
            "The bearer token the model service asks for (its MODEL_SERVICE_TOKEN), sent as "
            "'Authorization: Bearer'; unset or empty: none is sent."
        ),
    )
    model_token_file: Path | None = Field(
        default=None,
        description="A file holding that token instead (a compose secret); must exist and not be empty.",
    )

    @field_validator("model_token_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    def bearer_token(self) -> str | None:
        """The token to send, or None: the first of a comma- or line-separated
        list, as the model service accepts several while one is rotated;
        `ValueError` naming the setting (never the token) when the file is
        missing or empty. Not a validator: pydantic's errors would quote it."""
        if self.model_token is not None and _first(self.model_token.get_secret_value()):
            if self.model_token_file is not None:
                raise ValueError("set WEB_APP_MODEL_TOKEN or WEB_APP_MODEL_TOKEN_FILE, not both")
            return _first(self.model_token.get_secret_value())
        if self.model_token_file is None:
            return None
        source = f"WEB_APP_MODEL_TOKEN_FILE={self.model_token_file}"
        try:
            token = _first(self.model_token_file.read_text(encoding="ascii"))
        except FileNotFoundError:
            raise ValueError(f"{source}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{source}: cannot be read ({type(exc).__name__})") from None
        if not token:
            raise ValueError(f"{source}: the file is empty; put the model service's token in it")
        return token

    @field_validator("model_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                f"expected an http(s) URL such as http://127.0.0.1:8080, got {value!r}"
            )
        return value.strip().rstrip("/")


def _first(tokens: str) -> str | None:
    """The first token of a comma- or line-separated list, if any."""
    listed = [part.strip() for part in tokens.replace("\n", ",").split(",")]
    return next((token for token in listed if token), None)
