"""Import Ultralytics the way Satwa needs it: offline, and leaving Pillow alone.

Ultralytics would otherwise fetch fonts, weights and settings, sync usage statistics,
and report to experiment trackers; ``YOLO_OFFLINE`` and its settings turn all of that
off. Importing it also replaces ``PIL.Image.open`` process-wide with a wrapper that, on a
file Pillow cannot identify, tries to install ``pi-heif`` (a download) and retries: in
the service a corrupt HEIC photo would then not be refused the way every other corrupt
photo is (app.pipeline.decode registers pillow-heif itself). The original is put back.
"""

from __future__ import annotations

import logging
import os

from PIL import Image

logger = logging.getLogger(__name__)

_INTEGRATIONS_OFF = {
    "sync": False,
    "clearml": False,
    "comet": False,
    "dvc": False,
    "mlflow": False,
    "raytune": False,
    "tensorboard": False,
    "wandb": False,
}


def import_ultralytics_offline():
    """Import Ultralytics with downloads, syncs and integrations off and Pillow's
    ``Image.open`` restored; returns the ``YOLO`` class. Safe to call repeatedly."""
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ.setdefault("YOLO_VERBOSE", "False")
    from ultralytics.utils import SETTINGS

    SETTINGS.update(_INTEGRATIONS_OFF)
    from ultralytics import YOLO

    _restore_pillow_open()
    return YOLO


def _restore_pillow_open() -> None:
    if Image.open.__module__ != "ultralytics.utils.patches":
        return
    from ultralytics.utils import patches

    original = getattr(patches, "_image_open", None)
    if original is None:
        logger.warning(
            "Ultralytics patched PIL.Image.open and its original was not found; "
            "corrupt HEIC photos may not be refused cleanly"
        )
        return
    Image.open = original
