"""Time: the durable timer worker, scheduled process starts, and notifications with their e-mail outbox."""
