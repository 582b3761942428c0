"""Replaces DVC's own PyInstaller hook, which copies the metadata of every optional remote
(s3fs, gcsfs, adlfs...) and fails when they are not installed. tvdesk's datasets use a local
remote; the HTTP plugin comes along because it is a dependency of dvc."""

from PyInstaller.utils.hooks import copy_metadata

datas = copy_metadata("dvc")
hiddenimports = ["dvc_http"]
