"""Service halls: queue snapshots and the congestion evaluator."""
