"""The truth files a scorer needs beyond matches, anomalies and payouts (WORLD_FORMAT.md).

- `truth/anomaly_related.csv`: object_id, exception_type, related_id: the other objects an
  anomaly is about (the other side of its pair, the dispute's charge, the first of two
  receipts, ...). An exception naming one of them detects the anomaly.
- `truth/interchangeable.csv`: group, stripe_object_id, erp_document_number: charges of one
  customer and amount paying as many invoices with nothing on either side telling which paid
  which; any assignment of a group's documents to its charges is right.
- `truth/out_of_scope.csv`: object_id, scope: clean items outside the conservation scope of
  docs/contract.md section 6 (failed charges, wire and check receipts with their invoices,
  open and void invoices): an exception naming one is a false exception.
- `truth/resolved.csv`: object_id: the anomalies whose close is in
  decisions/exception_resolutions.csv (the ones a classifier has seen).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from demoworld.csv_sinks import CsvSink


class TruthExtras:
    """The sinks of the extra truth files; written while the world is generated."""

    def __init__(self, out_dir: Path) -> None:
        truth = out_dir / "truth"
        self.related = CsvSink(
            truth / "anomaly_related.csv", ["object_id", "exception_type", "related_id"]
        )
        self.interchangeable = CsvSink(
            truth / "interchangeable.csv", ["group", "stripe_object_id", "erp_document_number"]
        )
        self.out_of_scope = CsvSink(truth / "out_of_scope.csv", ["object_id", "scope"])
        self.resolved = CsvSink(truth / "resolved.csv", ["object_id"])
        self._groups = 0

    def scope(self, scope: str, *object_ids: str) -> None:
        for object_id in object_ids:
            self.out_of_scope.write([object_id, scope])

    def group(self, pairs: Sequence[tuple[str, str]]) -> None:
        """One interchangeable group: (charge id, document) pairs as truly paid."""
        self._groups += 1
        for charge_id, doc in pairs:
            self.interchangeable.write([f"G{self._groups}", charge_id, doc])

    def related_ids(self, object_id: str, exception_type: str, related: Iterable[str]) -> None:
        for other in related:
            if other:
                self.related.write([object_id, exception_type, other])

    def close(self) -> None:
        for sink in (self.related, self.interchangeable, self.out_of_scope, self.resolved):
            sink.close()
