"""Playing a camera: the frame loop and its feeds, the capture ring, the session recorder, the
annotated-video writer and the live session that ties drift alarms to retraining."""
