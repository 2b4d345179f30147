"""What a benchmark returns: figures (each with its same-run baseline), extra tables, missed goals."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Figure:
    """One measured value, with the same-run baseline it is compared against when there is one."""

    name: str
    value: float
    baseline: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """value ÷ baseline (below 1 means fewer than the baseline)."""
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline


@dataclass(frozen=True)
class Table:
    """An extra table a benchmark shows under its figures (e.g. where its API calls went)."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass
class Result:
    """What one benchmark measured; `failures` says why its goal was missed (empty: met)."""

    name: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def figure(self, name: str) -> Figure:
        return next(f for f in self.figures if f.name == name)
