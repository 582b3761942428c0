"""Training on another machine: a retraining's data, progress and candidate carried by Redis.

The app prepares the job (select, label, dataset) and registers what comes back; a
`tvdesk worker` on the training machine trains, evaluates and exports it (`training`). The
data moves as plain files and JSON (`carrier`), never as pickled objects.
"""
