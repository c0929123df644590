"""Operating the engine: backups, history retention and invariant checks."""
