"""Who is acting: a user with roles in an org unit, or the engine itself (``SYSTEM``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user (with roles) or the engine itself."""

    username: str
    roles: frozenset[str] = field(default_factory=frozenset)
    display_name: str | None = None
    org_unit: str | None = None

    def has_any(self, roles) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


SYSTEM = Actor("system", frozenset({"system"}), "系统")
