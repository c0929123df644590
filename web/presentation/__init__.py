"""Presentation: what people read rather than what the engine knows. Labels in Chinese and
English, chart hints, and the CSV, JSON and XLSX files of the audit log and the reports,
built from the data engine services return."""
