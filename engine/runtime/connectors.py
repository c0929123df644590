"""The topics of external tasks and who may work them: configuration, not model.

``processes/connectors.toml`` (or the file ``BPM_CONNECTORS`` names) lists each topic with its
display name, the service accounts (users with the ``integration`` role) that may fetch it, the
default lock duration, and the handler ``bpm external-worker`` runs for it with its settings. A
model only names the topic; a topic that is not configured is refused at deploy, since no worker
could ever take the task.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from engine.config import project_root
from engine.identity.actor import Actor

ROLE = "integration"
DEFAULT_LOCK_MS = 5 * 60 * 1000


def load_topics(path: Path | None) -> dict[str, dict]:
    """``{topic: {"name", "accounts", "handler", "lock_duration_ms", "settings"}}`` from the TOML file."""
    path = path or project_root() / "processes" / "connectors.toml"
    if not path.exists():
        return {}
    raw = tomllib.loads(path.read_text(encoding="utf-8")).get("topics", {})
    topics = {}
    for name, spec in raw.items():
        topics[name] = {"name": spec.get("name", name), "accounts": list(spec.get("accounts", [])),
                        "handler": spec.get("handler"), "settings": dict(spec.get("settings", {})),
                        "lock_duration_ms": int(spec.get("lock_duration_ms", DEFAULT_LOCK_MS))}
    return topics


def topics(engine) -> dict[str, dict]:
    cached = getattr(engine, "_external_topics", None)
    if cached is None:
        cached = engine._external_topics = load_topics(engine.settings.connectors)
    return cached


def may_work(engine, actor: Actor, topic: str) -> bool:
    spec = topics(engine).get(topic)
    return spec is not None and ROLE in actor.roles and actor.username in spec["accounts"]


