"""Archive tables shared by every reader: the reBEN metadata.parquet, parquet files and label columns, the
default columns of a names table, and copying a table row's facts onto a pair's records."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from csmae_core.errors import DataNotFoundError, InputError
from csmae_core.io.names import season_of_name
from csmae_core.labels import to_19
from csmae_core.record import PatchPair

REBEN_COLUMNS = ("patch_id", "labels", "split", "country", "s1_name", "s2v1_name",
                 "contains_seasonal_snow", "contains_cloud_or_shadow")


def read_reben_metadata(metadata: str | Path | pd.DataFrame,
                        extra: str | Path | None = None) -> pd.DataFrame:
    """reBEN metadata.parquet (optionally + the snow/cloud table) as an archive table."""
    if isinstance(metadata, pd.DataFrame):
        frame = metadata
    else:
        path = Path(metadata)
        if not path.is_file():
            raise DataNotFoundError(f"no reBEN metadata.parquet at {path}; pass metadata= (the archive's "
                                    "metadata.parquet)")
        frame = read_parquet_table(path)
        if extra is not None:
            frame = pd.concat([frame, read_parquet_table(Path(extra))], ignore_index=True)
    missing = [c for c in REBEN_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"metadata table lacks column(s) {', '.join(missing)}; "
                         f"a reBEN metadata.parquet has {', '.join(REBEN_COLUMNS)}")
    table = frame.rename(columns={"patch_id": "pair_id"}).copy()
    table["labels"] = label_lists(table["labels"], "metadata table")
    table["season"] = [season_of_name(name) for name in table["pair_id"]]
    return table


def read_parquet_table(path: Path, hint: str = "pass the metadata.parquet of the archive") -> pd.DataFrame:
    """A parquet file as a DataFrame; anything unreadable becomes an InputError naming the file."""
    if not path.is_file():
        raise DataNotFoundError(f"no {path.name} at {path}; {hint}")
    try:
        return pd.read_parquet(path)
    except Exception as error:  # pyarrow raises many types for a non-parquet file  # noqa: BLE001
        raise InputError(f"{path.name} is not a readable parquet file ({error}); {hint}") from error


def label_lists(column: pd.Series, what: str) -> list[list[str]]:
    """A labels column as lists of names (parquet gives arrays); anything else is an InputError."""
    out = []
    for value in column:
        if value is None or isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise InputError(f"{what}: column labels must hold lists of label names, found {value!r}; "
                             "write the labels as a list column (e.g. ['Arable land', 'Pastures'])")
        out.append(list(value))
    return out


def with_defaults(table: pd.DataFrame, names_table: pd.DataFrame | None) -> pd.DataFrame:
    if names_table is not None:
        extra = names_table.rename(columns={"s2_name": "pair_id"})[["pair_id", "country", "season"]]
        table = table.merge(extra, on="pair_id", how="left")
    for column in ("labels", "split", "country", "season", "contains_seasonal_snow",
                   "contains_cloud_or_shadow"):
        if column not in table:
            table[column] = None
    table["season"] = [s if isinstance(s, str) else season_of_name(n)
                       for s, n in zip(table["season"], table["pair_id"])]
    return table


def attach_row_meta(pair: PatchPair, row: pd.Series) -> None:
    """Copy the archive table's facts (labels, split, country, ...) onto both records."""
    meta: dict[str, Any] = {k: row[k] for k in ("split", "country", "season", "contains_seasonal_snow",
                                                "contains_cloud_or_shadow") if k in row and row[k] is not None}
    labels = row.get("labels")
    for record in (pair.s1, pair.s2):
        record.meta.update(meta)
        record.meta["pair_id"] = pair.pair_id
        if labels is not None and len(labels) > 0:
            record.labels = to_19(labels)
    pair.s1.meta["counterpart"] = pair.s2.name
    pair.s2.meta["counterpart"] = pair.s1.name
