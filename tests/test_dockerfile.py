"""The Dockerfile ships every file the service reads on its defaults.

No Docker engine runs in CI, so the image itself is not built here; this catches the
mistake that breaks it most easily: a default path the image does not contain.
"""

from __future__ import annotations

import re

from app.settings import Settings
from tests.factories import REPO_ROOT

DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()


def copied_paths() -> set[str]:
    paths = set()
    for line in re.findall(r"^COPY (.+)$", DOCKERFILE, flags=re.MULTILINE):
        *sources, _target = line.split()
        paths.update(sources)
    return paths


def test_dockerfile_copies_every_default_model_and_catalogue_file():
    defaults = Settings()
    needed = [
        defaults.weights,
        defaults.classifier_weights,
        defaults.taxonomy_path,
        defaults.catalog_path,
    ]
    copied = copied_paths()
    for path in needed:
        assert str(path) in copied, f"{path} is read on the defaults but not copied"
