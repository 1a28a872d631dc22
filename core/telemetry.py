"""A finance tool does not phone home: telemetry off for every library we drive."""

from __future__ import annotations

import os

TELEMETRY_SWITCHES = (
    ("DO_NOT_TRACK", "1"),
    ("RUNTIME__DLTHUB_TELEMETRY", "false"),
    ("GX_ANALYTICS_ENABLED", "false"),
    ("DBT_SEND_ANONYMOUS_USAGE_STATS", "false"),
)


def quiet_telemetry() -> None:
    """Turns the telemetry of dbt, dlt and Great Expectations off in this process, unless the user
    decided otherwise in their own environment. The `recon` command calls it first; importing a
    module never changes the environment."""
    for name, value in TELEMETRY_SWITCHES:
        os.environ.setdefault(name, value)
