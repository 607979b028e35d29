"""An uploaded patch as a search query: the counterpart of `queries.archive_query` and
`queries.archive_facts` for a `PatchRecord` read by `io.upload`, whose labels are only what the
uploader gave (none: the search reports no label metrics)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from csmae_core.record import PatchPair, PatchRecord
from csmae_core.retrieval.queries import PatchFacts, pair_query
from csmae_core.retrieval.search import Query


def upload_query(record: PatchRecord, embedding: np.ndarray, labels: Sequence[str] = ()) -> Query:
    """`record` as a query: embedding (D,) of its bands, labels given by the user (None when none)."""
    footprint = record.footprint
    return Query(embedding, record.sensor, list(labels) or None,
                 footprint.centroid_wgs84() if footprint else None, None, record.name)


def upload_facts(record: PatchRecord, labels: Sequence[str] = ()) -> PatchFacts:
    """What a page shows about an uploaded patch (bbox None when it has no georeference)."""
    footprint = record.footprint
    return PatchFacts(record.name, record.sensor, list(labels), footprint,
                      footprint.bounds_wgs84() if footprint else None, "uploaded patch")


def upload_pair_query(pair: PatchPair, s1_embedding: np.ndarray, s2_embedding: np.ndarray,
                      labels: Sequence[str] = ()) -> Query:
    """An uploaded pair (a zip of its S1 and S2 folders) as one query: both embeddings together."""
    return pair_query(upload_query(pair.s1, s1_embedding, labels), upload_query(pair.s2, s2_embedding, labels))
