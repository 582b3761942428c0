"""The retraining pipeline's logic: settings, the job's context, the stages and the promotion gate.

`jobs/` wraps each stage in a thin Huey task; everything here runs (and is tested) without Huey.
"""
