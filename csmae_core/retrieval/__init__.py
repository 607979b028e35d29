"""Retrieval: embed an archive (`embedding`), write and read index bundles (`bundle`: the manifest has one
owner), FAISS indexes (`faiss_index`), search with filters and label comparison (`search`), results as
GeoJSON / CSV (`export`), and the archive explorer's server-side aggregation (`aggregate`)."""
