"""Marshmallow schemas of every REST request and response body, one module per resource."""
