"""Service levels: the Chinese working-day calendar, SLA policies on tasks, and what happens when a threshold passes."""
