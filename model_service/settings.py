"""The model service's settings: one typed class, read from the command
line or from `MODEL_SERVICE_*` environment variables at the entry point and
passed to `create_app`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
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

    def resolved_model_dir(self) -> Path:
        return self.model_dir if self.model_dir is not None else self.cache_dir / "models" / "iris"
