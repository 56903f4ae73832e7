"""Automatic boxes from activation maps, IoU and YOLO label reading."""

from __future__ import annotations

import numpy as np
import pytest

from training.boxes import box_from_map, iou, read_yolo_box


def test_iou_identical_boxes_is_one():
    assert iou((0.1, 0.1, 0.5, 0.5), (0.1, 0.1, 0.5, 0.5)) == pytest.approx(1.0)


def test_iou_disjoint_boxes_is_zero():
    assert iou((0.0, 0.0, 0.2, 0.2), (0.5, 0.5, 0.9, 0.9)) == 0.0


def test_box_from_map_hot_corner_gives_box_around_it():
    activation = np.zeros((10, 10), dtype=np.float32)
    activation[6:9, 1:4] = 1.0

    x1, y1, x2, y2 = box_from_map(activation)

    assert x1 < 0.2 and x2 < 0.5 and y1 > 0.4 and y2 > 0.8


def test_box_from_map_empty_map_gives_whole_frame():
    assert box_from_map(np.zeros((10, 10), dtype=np.float32)) == (0.0, 0.0, 1.0, 1.0)


def test_read_yolo_box_centre_format_becomes_corners(tmp_path):
    label = tmp_path / "frame.txt"
    label.write_text("0 0.5 0.5 0.2 0.4\n")

    assert read_yolo_box(label) == pytest.approx((0.4, 0.3, 0.6, 0.7))


def test_read_yolo_box_empty_file_gives_none(tmp_path):
    label = tmp_path / "empty.txt"
    label.write_text("")

    assert read_yolo_box(label) is None
