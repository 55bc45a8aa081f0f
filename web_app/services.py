"""What the views share, built once in `create_app`."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from itsdangerous import URLSafeSerializer

from web_app.endpoint import EndpointClient
from web_app.metadata import MetadataCache
from web_app.settings import Settings


@dataclass(frozen=True)
class Services:
    settings: Settings
    client: EndpointClient
    metadata: MetadataCache
    downloads: URLSafeSerializer  # signs the batch results a page hands back for download


def services() -> Services:
    found: Services = current_app.extensions["web_app"]
    return found
