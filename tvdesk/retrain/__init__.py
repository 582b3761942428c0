"""Retraining logic: selection, labelers, dataset, relighting, stages, gate."""
