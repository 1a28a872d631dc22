"""Serving the review page: its configuration (users file, store, session secret) and uvicorn."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

import uvicorn

from core.errors import UserError
from core.settings import Settings
from recon.review.app import ReviewConfig, create_app
from recon.review.store import default_store_path
from recon.review.users import default_users_path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8001
MIN_SECRET = 32


def secret_path(settings: Settings) -> Path:
    """The generated session secret beside the warehouse: `<warehouse>.review-secret` (never committed)."""
    return settings.warehouse.with_name(settings.warehouse.name + ".review-secret")


def session_secret(settings: Settings, env: Mapping[str, str]) -> str:
    """RECON_REVIEW_SECRET when set, else the secret file beside the warehouse, created (owner-only)
    with a random secret the first time. Restarting keeps the sessions; deleting the file ends them."""
    given = env.get("RECON_REVIEW_SECRET") or ""
    if given:
        if len(given) < MIN_SECRET:
            raise UserError(f"RECON_REVIEW_SECRET must be at least {MIN_SECRET} characters (e.g. `openssl rand -hex 32`).")
        return given
    path = secret_path(settings)
    if path.exists():
        secret = path.read_text(encoding="utf-8").strip()
        if len(secret) >= MIN_SECRET:
            return secret
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
    return secret


def review_config(
    settings: Settings, *, users: str | None = None, env: Mapping[str, str] | None = None, https_only: bool = False
) -> ReviewConfig:
    env = os.environ if env is None else env
    users_value = users or env.get("RECON_REVIEW_USERS")
    return ReviewConfig(
        settings=settings,
        users_path=Path(users_value).expanduser().resolve() if users_value else default_users_path(settings),
        store_path=default_store_path(settings),
        secret=session_secret(settings, env),
        https_only=https_only,
    )


def run_server(config: ReviewConfig, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve until interrupted."""
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning", access_log=False)
