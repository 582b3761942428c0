"""The day-to-night demo in one place: its source, the headless run and its report."""
