"""Training, evaluation and export with Ultralytics (the `train` extra; never used by the player).

Everything that touches Ultralytics goes through `ultralytics_offline()` first, so no run ever
tries to download weights, fonts or pip packages.
"""
