"""Satwa's detector training pipeline: dataset, boxes, splits, train, evaluate, export."""
