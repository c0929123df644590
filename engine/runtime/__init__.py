"""Running instances: the SpiffWorkflow adapter, step persistence, definitions, instances, tasks, messages, documents and migration."""
