"""The shape every archive reader shares: an indexable list of S1+S2 pairs plus a metadata table."""
from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from csmae_core.errors import MissingKeyError
from csmae_core.record import PatchPair

# Columns every archive table has (one row per pair); readers may add more.
TABLE_COLUMNS = ("pair_id", "s1_name", "labels", "split", "country", "season",
                 "contains_seasonal_snow", "contains_cloud_or_shadow")


class PairArchive:
    """Base of the archive readers. Subclasses set `self.table` and implement `load_pair(row)`.

    Reading is lazy: the table is small, pixels are read only when a pair is asked for, so an
    archive of 550k pairs costs its table in memory, not its images.
    """

    table: pd.DataFrame
    source = ""

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, index: int) -> PatchPair:
        if not -len(self) <= index < len(self):
            raise IndexError(f"pair {index} of an archive of {len(self)}")
        return self.load_pair(self.table.iloc[index])

    def __iter__(self) -> Iterator[PatchPair]:
        for index in range(len(self)):
            yield self[index]

    def index_of(self, pair_id: str) -> int:
        hits = (self.table["pair_id"] == pair_id).to_numpy().nonzero()[0]
        if len(hits) == 0:
            example = f", e.g. {self.table['pair_id'].iloc[0]}" if len(self.table) else ""
            raise MissingKeyError(f"no pair {pair_id!r} in this archive; it holds {len(self)} pairs{example}")
        return int(hits[0])

    def load_pair(self, row: pd.Series) -> PatchPair:
        raise NotImplementedError
