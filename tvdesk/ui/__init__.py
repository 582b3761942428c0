"""The desktop UI: PySide6 and pyqtgraph live here and nowhere else."""
