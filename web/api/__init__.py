"""The REST API: one blueprint per resource, every body validated through web/schemas."""
