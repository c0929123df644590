"""The browser pages (Jinja templates with bpm-js and form-js), one module per concern, all on the
``pages`` blueprint of :mod:`web.pages.common` except the records, modeler and dashboard pages."""
