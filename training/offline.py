"""Keep Ultralytics offline: no hub, no settings sync, no font or asset download."""

from __future__ import annotations

import os


def keep_ultralytics_offline() -> None:
    """Call before the first ``import ultralytics``."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    from ultralytics.utils import SETTINGS

    SETTINGS.update(
        {
            "sync": False,
            "clearml": False,
            "comet": False,
            "dvc": False,
            "mlflow": False,
            "raytune": False,
            "tensorboard": False,
            "wandb": False,
        }
    )
