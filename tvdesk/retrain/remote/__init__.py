"""A retraining as plain data, for a training worker on another machine: the payload the app
builds after its dataset stage, the job as the worker's stages see it, and the candidate the
app registers when it comes back. No transport here: `jobs.remote` carries it."""
