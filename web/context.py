"""The engine the Flask app serves (``create_app`` keeps it in ``app.extensions["bpm"]``)."""

from __future__ import annotations

from flask import current_app


def current_engine():
    return current_app.extensions["bpm"]
