"""Several video files played as one stream: e.g. a day clip, then a night clip, so that the
drift monitor and the retraining see one camera whose light changes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from tvdesk.core.sources.base import Frame, SourceError, SourceInfo, VideoSource
from tvdesk.core.sources.file import FileSource


class PlaylistSource(VideoSource):
    """The files one after another, with continuous frame indices and stream time; with
    `repeat_last`, the last file plays again and again (a camera whose night goes on)."""

    def __init__(self, paths: Sequence[Path | str], repeat_last: bool = False) -> None:
        super().__init__()
        self.repeat_last = repeat_last
        if not paths:
            raise SourceError("a playlist needs at least one video file")
        self.paths = [Path(p) for p in paths]
        for path in self.paths:  # every file must open before anything plays
            FileSource(path).close()
        self._current = FileSource(self.paths[0])
        self._position = 0
        self._index_offset = 0
        self._time_offset = 0.0
        self._last: Frame | None = None
        self._frames_of_file = 0

    @property
    def info(self) -> SourceInfo:
        first = self._current.info
        names = " + ".join(p.name for p in self.paths)
        return SourceInfo("file", names, first.fps, first.size, None, live=False, seekable=False)

    def read(self) -> Frame | None:
        while not self._interrupted.is_set():
            frame = self._current.read()
            if frame is not None:
                frame = replace(
                    frame,
                    index=frame.index + self._index_offset,
                    timestamp=frame.timestamp + self._time_offset,
                )
                self._last = frame
                self._frames_of_file += 1
                return frame
            if not self._next_file():
                return None
        return None

    def _next_file(self) -> bool:
        last = self._position + 1 >= len(self.paths)
        if last and not self.repeat_last:
            return False
        if last and self._frames_of_file == 0:
            return False  # the file gave no frame at all: playing it again would spin
        fps = self._current.info.fps or 25.0
        if self._last is not None:
            self._index_offset = self._last.index + 1
            self._time_offset = self._last.timestamp + 1.0 / fps
        self._current.close()
        self._position = min(self._position + 1, len(self.paths) - 1)
        self._current = FileSource(self.paths[self._position])
        self._frames_of_file = 0
        again = " again" if last else ""
        self._emit("next", f"playing {self.paths[self._position].name}{again}")
        return True

    def interrupt(self) -> None:
        super().interrupt()
        self._current.interrupt()

    def close(self) -> None:
        self._current.close()
