"""Satwa's detector training: dataset, boxes, splits, train, evaluate, export."""
