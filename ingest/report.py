"""What a load did, table by table: the figures `recon ingest` prints."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TableLoadReport:
    """One raw table after one load."""

    table: str
    new_rows: int = 0
    updated_rows: int = 0
    quarantined_rows: int = 0
    requests: int = 0
    seconds: float = 0.0
    # Rows read again exactly as already loaded (not sent to the warehouse).
    unchanged_rows: int = 0
    # Inputs (files, tables) that could not be loaded at all; `LoadReport.messages` says why.
    skipped_sources: int = 0
    # Its input could not be read and the run was allowed to go on: its last good load stands.
    stale: bool = False


@dataclass
class LoadReport:
    """One source after one load: its tables, and the messages a person should read."""

    source: str
    tables: list[TableLoadReport] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def quarantined_rows(self) -> int:
        return sum(t.quarantined_rows for t in self.tables)

    @property
    def skipped_sources(self) -> int:
        return sum(t.skipped_sources for t in self.tables)

    def table(self, name: str) -> TableLoadReport:
        for report in self.tables:
            if report.table == name:
                return report
        report = TableLoadReport(table=name)
        self.tables.append(report)
        return report

    def render(self) -> str:
        """A fixed-width table for the CLI (the requests column only for API sources)."""
        with_requests = any(t.requests for t in self.tables)
        requests_header = f"{'requests':>10}" if with_requests else ""
        header = f"{'table':<34}{'new':>10}{'updated':>10}{'quarantined':>13}{requests_header}{'seconds':>9}"
        lines = [f"{self.source}: {len(self.tables)} tables in {self.seconds:.1f} s", header]
        for t in self.tables:
            requests = f"{t.requests:>10}" if with_requests else ""
            lines.append(
                f"{t.table:<34}{t.new_rows:>10}{t.updated_rows:>10}{t.quarantined_rows:>13}"
                f"{requests}{t.seconds:>9.1f}{'  STALE: not read, last good load stands' if t.stale else ''}"
            )
        lines.extend(self.messages)
        return "\n".join(lines)
