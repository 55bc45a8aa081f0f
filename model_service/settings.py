"""The model service's settings: one typed class, read from the command
line or from `MODEL_SERVICE_*` environment variables at the entry point and
passed to `create_app`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MODEL_SERVICE_", frozen=True)

    model_dir: Path | None = Field(
        default=None,
        description="The model package to serve (model.skops + model.json). "
        "Unset: the bundled iris model, built into cache_dir on first use.",
    )
    cache_dir: Path = Field(
        default=Path.home() / ".cache" / "sklearn-endpoint",
        description="Where the default model is built when no model_dir is given.",
    )
    host: str = Field(
        default="127.0.0.1", description="Interface to listen on (0.0.0.0 in a container)."
    )
    port: int = Field(default=8080, ge=1, le=65535)
    max_body_bytes: int = Field(
        default=20_000_000,
        ge=1,
        description="Largest request body in bytes, 20 MB by default (413 above).",
    )
    max_rows: int = Field(
        default=100_000, ge=1, description="Most rows one request may carry (413 above)."
    )
    max_head_bytes: int = Field(
        default=65_536,
        ge=1024,
        description="Largest request head (request line and headers) in bytes, 64 KiB by default "
        "(431 above); it also bounds how many headers fit (model_service/connections.py).",
    )
    keep_alive_seconds: int = Field(
        default=5,
        ge=1,
        description="uvicorn's timeout_keep_alive: a connection is closed when it has not sent a "
        "whole request head this long after connecting or after its last answer.",
    )
    body_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Time from a request's head to the end of its body, in seconds (408 after it): "
        "a body trickled slowly does not hold its connection for ever (model_service/deadline.py).",
    )
    inline_cells: int = Field(
        default=4096,
        ge=0,
        description="Batches up to this many cells (rows x features) are predicted on the event loop; "
        "larger ones in a worker thread, so one big batch does not stall other requests.",
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        # 1 by measurement: on a 2-core machine shared with the load, two
        # workers gave more requests/s but a worse p99, a slower start and
        # twice the memory (docs/native-api.md#worker-processes).
        description="Worker processes serving the port (model_service.workers); "
        "1 serves from this process.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    batching: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Predict concurrent requests together (docs/native-api.md, Micro-batching): "
        "auto turns it on when one row costs the model more than 250 µs (a forest, not a "
        "linear model), measured at warm-up.",
    )
    batch_wait_ms: float = Field(
        default=5.0,
        ge=0,
        description="Longest a request waits for a batch in flight before its own batch starts.",
    )
    max_batch_rows: int = Field(
        default=256, ge=1, description="Most rows predicted in one batch; larger requests go alone."
    )
    token: SecretStr | None = Field(
        default=None,
        description="Bearer tokens a caller must send (comma-separated, so one can be rotated); "
        "unset or empty: no token needed. See model_service.auth.",
    )
    token_file: Path | None = Field(
        default=None,
        description="A file holding the tokens instead (a compose or Kubernetes secret); "
        "a path to a missing or empty file stops start-up.",
    )

    @field_validator("token_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """`MODEL_SERVICE_TOKEN_FILE=` (as compose passes an unset variable) is no file."""
        return None if isinstance(value, str) and not value.strip() else value

    def resolved_model_dir(self) -> Path:
        return self.model_dir if self.model_dir is not None else self.cache_dir / "models" / "iris"

    def bearer_tokens(self) -> tuple[bytes, ...]:
        """The accepted tokens, empty when none is configured; `TokenError`
        (naming the setting, never the token) when they cannot be used. Not
        a validator: pydantic's errors would quote the token."""
        from model_service import auth

        if self.token is not None and self.token.get_secret_value().strip():
            if self.token_file is not None:
                raise auth.TokenError(
                    "set MODEL_SERVICE_TOKEN or MODEL_SERVICE_TOKEN_FILE, not both"
                )
            return auth.parse_tokens(self.token.get_secret_value(), "MODEL_SERVICE_TOKEN")
        if self.token_file is not None:
            return auth.read_token_file(self.token_file)
        return ()
