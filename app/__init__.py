"""Satwa: finds illegal wildlife trade in online listing photos."""
