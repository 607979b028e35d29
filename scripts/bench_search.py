"""Search at BigEarthNet scale: exact vs HNSW vs IVF-PQ (+SQ8 re-rank) on 549,488 pairs x 2 sensors.

Vectors are synthetic but structured like real embeddings: each pair's S2 vector mixes the centroids
of its real reBEN labels, its country and season with noise; its S1 vector is the S2 vector moved by a
sensor offset plus noise. Ids, labels, countries, seasons, splits and locations are the real reBEN
metadata, so filters select realistic subsets. Per index type: build time, memory, p50/p95 latency of
one k=10 query (one sensor, both sensors, with a country filter, with a 50 km exclusion radius) through
`SearchEngine`, and recall@10 against exact search.

    python scripts/bench_search.py --metadata PATH/metadata.parquet [--snow-cloud PATH/...parquet]
    python scripts/bench_search.py --metadata ... --pairs 50000 --types flat ivfpq_sq8   # quicker
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np


from csmae_core.retrieval.bundle import TABLE, bundle_table, new_workdir, write_bundle
from csmae_core.retrieval.faiss_index import IndexSpec, build_index, index_bytes, recall_at_k
from csmae_core.io.folders import read_reben_metadata
from csmae_core.labels import multi_hot_matrix


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--metadata", type=Path, required=True, help="reBEN metadata.parquet")
    p.add_argument("--snow-cloud", type=Path, help="reBEN metadata_for_patches_with_snow_cloud_or_shadow.parquet")
    p.add_argument("--pairs", type=int, default=0, help="use only this many pairs (0 = all)")
    p.add_argument("--dim", type=int, default=768)
    p.add_argument("--types", nargs="+", default=["flat", "hnsw", "ivfpq", "ivfpq_sq8"])
    p.add_argument("--queries", type=int, default=300, help="timed queries per setting")
    p.add_argument("--nprobe", type=int, default=64)
    p.add_argument("--refine", type=int, default=8, help="IVF-PQ + SQ8 re-rank: candidates = refine x k")
    p.add_argument("--ef-search", type=int, default=128)
    p.add_argument("--sweep", action="store_true",
                   help="instead: build IVF-PQ + SQ8 for S2 once and sweep nprobe x re-rank factor (recall vs latency)")
    p.add_argument("--sweep-kind", default="ivfpq_sq8", help="ivfpq_sq8 or ivfsq8")
    p.add_argument("--sweep-nprobe", type=int, nargs="+", default=[32, 64, 128, 256])
    p.add_argument("--sweep-refine", type=int, nargs="+", default=[8, 16, 32])
    p.add_argument("--json", type=Path, help="also write the results here")
    return p.parse_args(argv)


def synthetic_embeddings(table, dim: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = multi_hot_matrix(table["labels"])
    label_centroids = rng.standard_normal((labels.shape[1], dim)).astype(np.float32)
    countries = {c: i for i, c in enumerate(sorted(table["country"].dropna().unique()))}
    country_centroids = rng.standard_normal((len(countries) + 1, dim)).astype(np.float32) * 0.6
    country = table["country"].map(countries).fillna(len(countries)).to_numpy(int)
    s2 = labels @ label_centroids / np.maximum(labels.sum(1, keepdims=True), 1) ** 0.5
    s2 += country_centroids[country] + 0.9 * rng.standard_normal((len(table), dim)).astype(np.float32)
    s1 = s2 + rng.standard_normal(dim).astype(np.float32) * 0.5 + 0.9 * rng.standard_normal((len(table), dim)).astype(np.float32)
    unit = lambda x: (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)  # noqa: E731
    return {"s2": unit(s2), "s1": unit(s1)}


def write_bench_bundle(folder: Path, table, vectors, spec: IndexSpec, out: Path | None = None,
                       manifest_extra: dict | None = None) -> tuple[Path, dict]:
    """A bundle of synthetic `vectors` over the real `table` (at `out`, default folder/bench-<kind>);
    the report holds the index build time (both sensors), index memory and recall@10 on 500 queries."""
    import faiss

    out = out or folder / f"bench-{spec.kind}"
    workdir = new_workdir(out)
    table.to_parquet(workdir / TABLE, index=False)
    report = {"build_s": 0.0, "index_bytes": 0, "recall_at_10": {}}
    for sensor, matrix in vectors.items():
        np.save(workdir / f"embeddings_{sensor}.npy", matrix)
        started = time.perf_counter()
        index = build_index(matrix, spec)
        report["build_s"] += time.perf_counter() - started
        report["index_bytes"] += index_bytes(index)
        sample = np.random.default_rng(1).choice(len(matrix), 500, replace=False)
        report["recall_at_10"][sensor] = recall_at_k(index, matrix, matrix[sample], 10) if spec.kind != "flat" else 1.0
        faiss.write_index(index, str(workdir / f"index_{sensor}.faiss"))
    manifest = {"name": out.name, "encoder_family": "synthetic", "model": {"content_hash": "synthetic", "config": {}},
                "archive": {"path": "synthetic"}, "counts": {"pairs": len(table), "sensors": ["s1", "s2"]},
                "dim": next(iter(vectors.values())).shape[1], "index": {"spec": spec.to_dict(), "recall_at_10": report["recall_at_10"]}}
    manifest.update(manifest_extra or {})
    return write_bundle(out, workdir, manifest), report


def latency(engine, vectors, table, settings: dict, queries: int) -> dict:
    from csmae_core.retrieval.search import Filters, Query

    rng = np.random.default_rng(2)
    rows = rng.choice(len(table), queries, replace=False)
    out = {}
    for name, (targets, filters, with_rank) in settings.items():
        times = []
        for row in rows:
            query = Query(vectors["s2"][row], "s2", None, (table.at[row, "lon"], table.at[row, "lat"]), int(row))
            started = time.perf_counter()
            engine.search(query, targets, 10, filters, counterpart=with_rank)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        out[name] = {"p50_ms": statistics.median(times), "p95_ms": times[int(0.95 * len(times)) - 1]}
    return out


def sweep(vectors: np.ndarray, queries: int, nprobes=(32, 64, 128, 256), factors=(8, 16, 32),
          kind: str = "ivfpq_sq8") -> list[dict]:
    """Recall@10 and single-thread latency of one IVF index over a grid of query parameters."""
    from csmae_core.retrieval.faiss_index import configure

    faiss.omp_set_num_threads(os.cpu_count() or 1)
    spec = IndexSpec(kind=kind)
    index = build_index(vectors, spec)
    sample = vectors[np.random.default_rng(3).choice(len(vectors), queries, replace=False)]
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(sample, 10)
    faiss.omp_set_num_threads(1)
    rows = []
    for nprobe in nprobes:
        for factor in factors:
            spec.nprobe, spec.refine_factor = nprobe, factor
            configure(index, spec)
            times, found = [], []
            for vector in sample:
                started = time.perf_counter()
                found.append(index.search(vector[None], 10)[1][0])
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            recall = float(np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found)]))
            rows.append({"nprobe": nprobe, "refine": factor, "recall_at_10": recall,
                         "p50_ms": times[len(times) // 2], "p95_ms": times[int(0.95 * len(times)) - 1]})
            print(f"{kind} nprobe {nprobe:4} refine {factor:3}: recall@10 {recall:.3f}  p50 {rows[-1]['p50_ms']:.2f} ms  "
                  f"p95 {rows[-1]['p95_ms']:.2f} ms")
    return rows


def main(argv=None) -> int:
    from csmae_core.retrieval.bundle import Bundle
    from csmae_core.retrieval.search import Filters, SearchEngine

    args = parse_args(argv)
    table = bundle_table(read_reben_metadata(args.metadata, args.snow_cloud))
    if args.pairs:
        table = table.iloc[:args.pairs].reset_index(drop=True)
    vectors = synthetic_embeddings(table, args.dim)
    print(f"{len(table):,} pairs x 2 sensors = {2 * len(table):,} vectors of dim {args.dim}")
    if args.sweep:
        rows = sweep(vectors["s2"], args.queries, args.sweep_nprobe, args.sweep_refine, args.sweep_kind)
        if args.json:
            args.json.write_text(json.dumps({"pairs": len(table), "dim": args.dim, "sweep": rows}, indent=2))
        return 0
    biggest = table["country"].value_counts().index[0]
    settings = {"one sensor": (["s2"], Filters(), False), "both sensors": (["s1", "s2"], Filters(), False),
                f"one sensor, country={biggest}": (["s2"], Filters(countries=frozenset({biggest})), False),
                "one sensor, exclude < 50 km": (["s2"], Filters(min_distance_km=50.0), False),
                "both sensors + counterpart rank (app)": (["s1", "s2"], Filters(), True)}
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for kind in args.types:
            spec = IndexSpec(kind=kind, nprobe=args.nprobe, refine_factor=args.refine, ef_search=args.ef_search)
            faiss.omp_set_num_threads(os.cpu_count() or 1)  # building uses every core; SearchEngine sets 1
            path, report = write_bench_bundle(Path(folder), table, vectors, spec)
            engine = SearchEngine(Bundle(path, verify=False))
            report["latency"] = latency(engine, vectors, table, settings, args.queries)
            results[kind] = report
            print_row(kind, report)
    if args.json:
        args.json.write_text(json.dumps({"pairs": len(table), "dim": args.dim, "results": results}, indent=2))
    return 0


def print_row(kind: str, report: dict) -> None:
    recall = min(report["recall_at_10"].values())
    print(f"\n{kind}: build {report['build_s']:.1f} s, index {report['index_bytes'] / 2**30:.2f} GiB (both sensors), "
          f"recall@10 {recall:.3f}")
    for name, values in report["latency"].items():
        print(f"  {name:34} p50 {values['p50_ms']:7.2f} ms   p95 {values['p95_ms']:7.2f} ms")


if __name__ == "__main__":
    sys.exit(main())
