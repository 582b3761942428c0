"""The SQLite store: cameras, sessions, per-second stats, sampled detections, drift events,
model versions, jobs, counting lines and zones and their per-minute counts, in one WAL-mode
database file shared by every tvdesk process."""

from tvdesk.core.store.camera import Camera, DetectionSettings
from tvdesk.core.store.cameras import Cameras
from tvdesk.core.store.connection import DB_NAME, StoreError, database_path
from tvdesk.core.store.counting_shape import CountingShape
from tvdesk.core.store.counts import Counters, Counts
from tvdesk.core.store.database import DriftEvents, Sessions, Store
from tvdesk.core.store.records import Jobs, ModelVersions
from tvdesk.core.store.schema import MIGRATIONS
from tvdesk.core.store.writer import StoreWriter

__all__ = [
    "DB_NAME",
    "MIGRATIONS",
    "Camera",
    "Cameras",
    "Counters",
    "CountingShape",
    "Counts",
    "DetectionSettings",
    "DriftEvents",
    "Jobs",
    "ModelVersions",
    "Sessions",
    "Store",
    "StoreError",
    "StoreWriter",
    "database_path",
]
