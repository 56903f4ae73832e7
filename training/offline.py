"""Keep Ultralytics offline in training, as the service does (app.offline_ultralytics)."""

from __future__ import annotations

from app.offline_ultralytics import import_ultralytics_offline


def keep_ultralytics_offline() -> None:
    """Call before using Ultralytics: downloads, syncs and integrations off."""
    import_ultralytics_offline()
