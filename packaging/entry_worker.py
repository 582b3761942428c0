"""Entry script of the frozen `tvdesk-worker` executable: the job queue's consumer, with the
training stack (Ultralytics, torch) that the `tvdesk` executable leaves out."""

import multiprocessing
import sys

from jobs.worker import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # torch data loaders may spawn processes (Windows, macOS)
    sys.exit(main())
