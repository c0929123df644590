"""The `bpm` command line and the gunicorn runner: entrypoints over the engine services."""
