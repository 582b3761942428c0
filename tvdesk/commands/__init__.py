"""Sub-commands of the `tvdesk` CLI: each module adds its parser and runs its job."""
