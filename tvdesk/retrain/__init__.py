"""Retraining logic: selection, labelers, dataset and DVC, relighting, the stages and the gate.

Qt-free and Huey-free: `jobs/` wraps each stage in a thin Huey task; everything here runs (and
is tested) without a queue.
"""
