"""Training the second stage: ImageNet groups, taxonomy sections, a whole tiny run."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from app.errors import ConfigurationError
from app.pipeline.classifier_head import ClassifierHead
from app.pipeline.imagenet import imagenet_labels
from tests.drawn_animals import DRAWN_CLASSES, write_class_folders
from tests.factories import REPO_ROOT
from training.classifier import imagenet_indices, read_groups, run
from training.classifier_report import reading_report
from training.override_trials import BoxReading, override_trials, top_label

TAXONOMY = REPO_ROOT / "datasets/taxonomy.yaml"


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        (["great grey owl"], (24,)),
        (["Komodo dragon"], (48,)),
        (["teddy"], (850,)),
        (["tiger"], (292,)),
        ([[151, 153]], (151, 152, 153)),
    ],
)
def test_imagenet_indices_name_or_range_resolves(entries, expected):
    assert imagenet_indices(entries) == expected


@pytest.mark.parametrize("name", ["crane", "no such animal"])
def test_imagenet_indices_ambiguous_or_unknown_name_raises(name):
    with pytest.raises(ConfigurationError, match="expected exactly one"):
        imagenet_indices([name])


def test_read_groups_shipped_taxonomy_every_class_has_imagenet_classes():
    classes, groups, _ = read_groups(TAXONOMY)

    assert all(groups[name] for name in classes)
    every_index = [index for name in classes for index in groups[name]]
    assert len(every_index) == len(set(every_index)), "an ImageNet class in two groups"


def test_read_groups_refinement_lies_inside_its_parent_group():
    classes, groups, refinements = read_groups(TAXONOMY)

    for item in refinements:
        assert item.parent in classes
        if not item.lookalike:
            assert set(item.imagenet) <= set(groups[item.parent]), item.label


def test_taxonomy_refinement_catalog_keys_are_in_catalogue():
    refinements = yaml.safe_load(TAXONOMY.read_text())["refinements"]
    with (REPO_ROOT / "datasets/catalog.csv").open(newline="") as handle:
        keys = {row["key"] for row in csv.DictReader(handle)}

    for label, spec in refinements.items():
        assert set(spec["catalog"]) <= keys, label
        assert bool(spec["catalog"]) != bool(spec.get("lookalike")), label


def test_refinements_named_in_brief_all_resolve():
    _, _, refinements = read_groups(TAXONOMY)
    names = {
        imagenet_labels()[index] for item in refinements for index in item.imagenet
    }

    assert {item.label for item in refinements} >= {
        "orangutan",
        "gibbon",
        "siamang",
        "hornbill",
        "komodo_dragon",
        "cockatoo",
        "lory",
        "plush_toy",
    }
    assert "teddy, teddy bear" in names


def _tiny_config(tmp_path: Path) -> dict:
    data_root = tmp_path / "data"
    write_class_folders(data_root, per_class=16)
    manifest = tmp_path / "sources.yaml"
    manifest.write_text(
        yaml.safe_dump(
            {
                "sources": [
                    {"path": label, "layout": "folder", "class": label}
                    for label in DRAWN_CLASSES
                ]
            }
        )
    )
    taxonomy = tmp_path / "taxonomy.yaml"
    taxonomy.write_text(
        yaml.safe_dump(
            {
                "classes": {
                    "tiger": {"catalog": ["sumatran_tiger"]},
                    "parrot": {"catalog": ["palm_cockatoo"], "group": True},
                    "cat": {"catalog": [], "lookalike": True},
                },
                "zero_shot": {
                    "tiger": ["tiger"],
                    "parrot": ["macaw"],
                    "cat": ["tabby"],
                },
                "refinements": {
                    "cockatoo": {
                        "catalog": ["palm_cockatoo"],
                        "parent": "parrot",
                        "imagenet": ["sulphur-crested cockatoo"],
                    }
                },
            },
            sort_keys=False,
        )
    )
    return {
        "data_root": str(data_root),
        "manifest": str(manifest),
        "taxonomy": str(taxonomy),
        "output_dir": str(tmp_path / "weights"),
        "classifier": {
            "work_dir": str(tmp_path / "work"),
            "epochs": 60,
            "weight_decays": [1e-3],
            "alphas": [0.0, 0.5, 1.0],
            "batch_size": 16,
        },
    }


@pytest.mark.slow
def test_run_tiny_drawn_dataset_writes_head_record_and_figures(tmp_path):
    config = _tiny_config(tmp_path)

    head_path = run(config)

    head = ClassifierHead.read(head_path)
    assert head.classes == ("tiger", "parrot", "cat")
    assert head.weight.shape == (3, 1280)
    run_dir = tmp_path / "weights/satwa-classifier.run"
    assert (
        yaml.safe_load((run_dir / "config.yaml").read_text())["classifier"]["epochs"]
        == 60
    )
    assert (run_dir / "git_revision.txt").read_text().strip()
    metrics = json.loads(
        (tmp_path / "weights/satwa-classifier.metrics.json").read_text()
    )
    assert sum(metrics["photos"].values()) == 48
    assert metrics["test_photos"] == metrics["photos"]["test"] > 0
    assert metrics["stages"]["crop_head"]["accuracy"] == 1.0
    assert set(metrics["stages"]) == {"crop_head", "zero_shot", "combined"}
    assert (tmp_path / "work/features.npz").exists()


def test_reading_report_refinement_is_its_parent_and_lookalike_alarms_counted(
    tmp_path,
):
    taxonomy = tmp_path / "taxonomy.yaml"
    taxonomy.write_text(
        yaml.safe_dump(
            {
                "classes": {
                    "tiger": {"catalog": ["sumatran_tiger"]},
                    "parrot": {"catalog": ["palm_cockatoo"]},
                    "cat": {"catalog": [], "lookalike": True},
                },
                "refinements": {
                    "cockatoo": {"catalog": ["palm_cockatoo"], "parent": "parrot"},
                    "plush_toy": {"catalog": [], "parent": "tiger", "lookalike": True},
                },
            }
        )
    )
    predicted = ["cockatoo", "tiger", "plush_toy", "tiger", "cat"]
    truth = ["parrot", "tiger", "tiger", "cat", "cat"]

    report = reading_report(predicted, truth, taxonomy)

    assert report["accuracy"] == 0.6
    assert {name: row["accuracy"] for name, row in report["per_class"].items()} == {
        "cat": 0.5,
        "parrot": 1.0,
        "tiger": 0.5,
    }
    assert report["balanced_accuracy"] == pytest.approx(2 / 3, abs=1e-3)
    assert report["lookalike_protected"] == {
        "lookalike_photos": 2,
        "protected_labels": 1,
        "rate": 0.5,
        "by_label": {"tiger": 1},
    }


@pytest.mark.parametrize(
    ("over", "unsure", "expected"),
    [
        (0.7, 0.9, "parrot"),  # classifier sure, detector not very sure
        (0.9, 0.9, "owl"),  # classifier not sure enough
        (0.7, 0.5, "owl"),  # detector sure enough
    ],
)
def test_top_label_override_rule_replayed(over, unsure, expected):
    boxes = [BoxReading("owl", 0.6, "parrot", 0.8), BoxReading("cat", 0.2, "cat", 0.9)]

    assert top_label(boxes, over, unsure) == expected


def test_override_trials_count_changes_and_alarms():
    photos = [
        [BoxReading("owl", 0.6, "parrot", 0.8)],  # truth parrot: made right
        [BoxReading("cat", 0.6, "tiger", 0.8)],  # truth cat: made wrong, an alarm
        [],  # no box: wrong either way
    ]
    truth = ["parrot", "cat", "owl"]

    alone, *trials = override_trials(photos, truth, {"tiger", "parrot"}, {"cat"})

    assert alone == {"detector_alone_accuracy": 0.333}
    (trial,) = [t for t in trials if (t["over"], t["unsure"]) == (0.7, 0.9)]
    assert trial == {
        "over": 0.7,
        "unsure": 0.9,
        "accuracy": 0.333,
        "wrong_to_right": 1,
        "right_to_wrong": 1,
        "lookalike_protected": 1,
    }
