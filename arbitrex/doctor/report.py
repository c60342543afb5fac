"""A check's result, as doctor reports it."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["Check"]


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "pass", "warn" or "fail"
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)
