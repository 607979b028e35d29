"""Retrieval: embed an archive and keep it as an index bundle, search it, show where results are.

  embedding.py         embed an archive (one process, or many GPUs / nodes writing shards rank 0 merges)
  bundle.py            index bundles: written and read here only (manifest, table, embeddings, FAISS indexes)
  faiss_index.py       index types, build, recall against exact search
  search.py            SearchEngine: filters, one or both sensors, counterpart rank, label comparison
  queries.py           an archive patch as a query, and the facts a page shows about it
  upload_query.py      an uploaded patch as a query
  pair_lookup.py       finding archive pairs by map click, text or listing
  export.py            results as GeoJSON and CSV
  aggregate.py         the explorer's server-side aggregation (cells, viewport, label counts)
  browse.py            the explorer's per-table facts and filters
  evaluate_bundles.py  bundles and model files as the embeddings csmae_core.evaluation compares
  synthetic.py         synthetic vectors on real metadata for benchmarks and scale tests (named so)
"""
