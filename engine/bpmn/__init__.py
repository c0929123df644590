"""BPMN models: reading and checking a document before it is stored, and the sandboxed expressions and scripts it runs."""
