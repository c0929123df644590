"""The tamper-evident audit trail: the hash chain, signed checkpoints, and reading it back."""
