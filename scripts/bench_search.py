"""Search at BigEarthNet scale: exact vs IVF-SQ8 vs IVF-RaBitQ (1 / 4 bits, exact re-rank) vs HNSW vs IVF-PQ (+SQ8
re-rank) on 549,488 pairs x 2 sensors.

Vectors are synthetic but structured like real embeddings (csmae_core.retrieval.synthetic): each pair's
S2 vector mixes the centroids of its real reBEN labels and its country with noise; its S1 vector is the
S2 vector moved by a sensor offset plus noise. Ids, labels, countries, seasons, splits and locations are the real reBEN
metadata, so filters select realistic subsets. Per index type: build time, memory, p50/p95 latency of
one k=10 query (one sensor, both sensors, with a country filter, with a 50 km exclusion radius) through
`SearchEngine`, and recall@10 against exact search.

    python scripts/bench_search.py --metadata PATH/metadata.parquet [--snow-cloud PATH/...parquet]
    python scripts/bench_search.py --metadata ... --pairs 50000 --types flat ivfpq_sq8   # quicker
    python scripts/bench_search.py --metadata ... --bundle DIR --baseline   # with and without country centroids
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

from csmae_core.io.folders import read_reben_metadata
from csmae_core.retrieval.bundle import bundle_table
from csmae_core.retrieval.faiss_index import build_index, choose_spec, index_bytes
from csmae_core.retrieval.synthetic import synthetic_embeddings, write_synthetic_bundle


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--metadata", type=Path, required=True, help="reBEN metadata.parquet")
    p.add_argument("--snow-cloud", type=Path, help="reBEN metadata_for_patches_with_snow_cloud_or_shadow.parquet")
    p.add_argument("--pairs", type=int, default=0, help="use only this many pairs (0 = all)")
    p.add_argument("--dim", type=int, default=768)
    p.add_argument("--types", nargs="+", default=["flat", "ivfsq8", "ivfrabitq", "ivfrabitq4"])
    p.add_argument("--queries", type=int, default=300, help="timed queries per setting")
    p.add_argument("--nprobe", type=int, help="IVF kinds: lists visited per query (default: the kind's own)")
    p.add_argument("--refine", type=int, default=8, help="IVF-PQ + SQ8 re-rank: candidates = refine x k")
    p.add_argument("--rerank", type=int, help="RaBitQ kinds: candidates re-scored exactly = rerank x k "
                                              "(default: the kind's own, see choose_spec)")
    p.add_argument("--nlist", type=int, help="IVF kinds: inverted lists (default: the kind's own)")
    p.add_argument("--ef-search", type=int, default=128)
    p.add_argument("--sweep", action="store_true",
                   help="instead: build IVF-PQ + SQ8 for S2 once and sweep nprobe x re-rank factor (recall vs latency)")
    p.add_argument("--sweep-kind", default="ivfpq_sq8", help="ivfpq_sq8 or ivfsq8")
    p.add_argument("--sweep-nprobe", type=int, nargs="+", default=[32, 64, 128, 256])
    p.add_argument("--sweep-refine", type=int, nargs="+", default=[8, 16, 32])
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--bundle", type=Path, help="time this synthetic bundle (written earlier by this script's "
                                               "vectors, e.g. with --keep) instead of building one per type")
    p.add_argument("--keep", type=Path, help="write the bundles here (kept) instead of a temporary folder")
    p.add_argument("--time-centroids", action="store_true",
                   help="with --bundle: instead, time the pass that writes the country centroids at index build "
                        "(csmae_core.retrieval.indexing.write_country_centroids), per sensor, median of 3")
    p.add_argument("--baseline", action="store_true",
                   help="with --bundle: also time the bundle as if it had no country centroids (country filters "
                        "visit lists in the index's own order), taking turns query by query in the same run")
    return p.parse_args(argv)


def latency(engines: dict, vectors, table, settings: dict, queries: int) -> dict:
    """Per engine (name -> SearchEngine over the same vectors): p50/p95 wall and CPU milliseconds of one search
    per setting, and recall@10 of its results against exact search over the rows the setting admits (CPU time:
    robust to other load on a shared machine). Several engines take turns query by query, so they meet the same
    load, first and second alternately. Timed warm: the embeddings are read once first, as a running server has them in the page cache."""
    from csmae_core.retrieval.search import Query

    for matrix in vectors.values():
        float(np.asarray(matrix).sum())

    rng = np.random.default_rng(2)
    rows = rng.choice(len(table), queries, replace=False)
    out: dict = {name: {} for name in engines}
    for name, (targets, filters, with_rank) in settings.items():
        times, cpu, found = ({engine: [] for engine in engines} for _ in range(3))
        for turn, row in enumerate(rows):
            query = Query(vectors["s2"][row], "s2", None, (table.at[row, "lon"], table.at[row, "lat"]), int(row))
            order = list(engines.items())
            for label, engine in order[::-1] if turn % 2 else order:  # who goes second finds the caches warm
                started, started_cpu = time.perf_counter(), time.process_time()
                response = engine.search(query, targets, 10, filters, counterpart=with_rank)
                times[label].append((time.perf_counter() - started) * 1000)
                cpu[label].append((time.process_time() - started_cpu) * 1000)
                found[label].append({(r.sensor, r.row) for r in response.results})
        for label, engine in engines.items():
            recall, shortfall = exact_recall(engine, vectors, rows, targets, filters, found[label])
            out[label][name] = {**percentiles(times[label], "ms"), **percentiles(cpu[label], "cpu_ms"),
                                "recall_at_10": recall, "max_shortfall": shortfall}
    return out


def percentiles(values: list[float], unit: str) -> dict:
    values = sorted(values)
    return {f"p50_{unit}": statistics.median(values), f"p95_{unit}": values[int(0.95 * len(values)) - 1]}


def exact_recall(engine, vectors, rows, targets, filters, found) -> tuple[float | None, float | None]:
    """Share of the exact top-10 (over the admitted rows of every target sensor, the query's own pair left
    out as the engine does) that the search found, and the largest cosine by which the 10th result found
    falls short of the exact 10th; (None, None) for distance exclusions (not modelled here)."""
    if filters.min_distance_km > 0:
        return None, None
    mask = engine._selection(filters).mask
    hits, shortfalls = [], []
    for start in range(0, len(rows), 50):
        chunk = rows[start:start + 50]
        queries = np.asarray(vectors["s2"][chunk], dtype=np.float32)
        scores = {t: queries @ np.asarray(vectors[t], dtype=np.float32).T for t in targets}
        for i, row in enumerate(chunk):
            merged = []
            for target, matrix in scores.items():
                line = matrix[i].copy()
                if mask is not None:
                    line[~mask] = -np.inf
                line[row] = -np.inf
                top = np.argpartition(-line, 10)[:10]
                # several sensors: merged as the engine merges them, by calibrated score
                order = (engine.calibrator.calibrate(line[top], queries[i], target) if len(scores) > 1
                         else line[top])
                merged += [(order[j], line[r], target, int(r)) for j, r in enumerate(top)]
            truth = [(score, t, r) for _, score, t, r in sorted(merged, reverse=True)[:10]]
            hits.append(len({(t, r) for _, t, r in truth} & found[start + i]) / 10)
            got = sorted((scores[t][i, r] for t, r in found[start + i]), reverse=True)
            if len(got) == len(truth) and len(scores) == 1:  # how much worse the 10th found is than the exact 10th
                shortfalls.append(float(truth[-1][0] - got[-1]))
    return float(np.mean(hits)), float(np.max(shortfalls)) if shortfalls else None


def sweep(vectors: np.ndarray, queries: int, nprobes=(32, 64, 128, 256), factors=(8, 16, 32),
          kind: str = "ivfpq_sq8", nlist: int | None = None) -> list[dict]:
    """Recall@10 and single-thread latency of one IVF index over a grid of query parameters: nprobe x the
    re-rank factor (ivfpq_sq8: SQ8 candidates per result; RaBitQ kinds: exactly re-scored candidates per
    result; other kinds ignore it). Searched the app's way (csmae_core.retrieval.faiss_index.search_top)."""
    from csmae_core.retrieval.faiss_index import RERANKED, configure, search_top

    faiss.omp_set_num_threads(os.cpu_count() or 1)
    spec = choose_spec(kind, len(vectors), vectors.shape[1])
    spec.nlist = nlist or spec.nlist
    started = time.perf_counter()
    index = build_index(vectors, spec)
    print(f"{kind} nlist {spec.nlist}: built in {time.perf_counter() - started:.1f} s, "
          f"{index_bytes(index) / 2**20:.0f} MiB", flush=True)
    sample = vectors[np.random.default_rng(3).choice(len(vectors), queries, replace=False)]
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(sample, 10)
    faiss.omp_set_num_threads(1)
    rows = []
    for nprobe in nprobes:
        for factor in factors:
            spec.nprobe, spec.refine_factor = nprobe, factor
            spec.rerank = factor if kind in RERANKED else 0
            configure(index, spec)
            times, found = [], []
            for vector in sample:
                started = time.perf_counter()
                found.append(search_top(index, spec, vectors, vector[None], 10)[1])
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            recall = float(np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found)]))
            rows.append({"nprobe": nprobe, "refine": factor, "recall_at_10": recall,
                         "p50_ms": times[len(times) // 2], "p95_ms": times[int(0.95 * len(times)) - 1]})
            print(f"{kind} nprobe {nprobe:4} refine {factor:3}: recall@10 {recall:.3f}  p50 {rows[-1]['p50_ms']:.2f} ms  "
                  f"p95 {rows[-1]['p95_ms']:.2f} ms", flush=True)
    return rows


def main(argv=None) -> int:
    from csmae_core.retrieval.bundle import Bundle
    from csmae_core.retrieval.search import SearchEngine

    args = parse_args(argv)
    table = bundle_table(read_reben_metadata(args.metadata, args.snow_cloud))
    if args.pairs:
        table = table.iloc[:args.pairs].reset_index(drop=True)
    vectors = None if args.bundle else synthetic_embeddings(table, args.dim)
    print(f"{len(table):,} pairs x 2 sensors = {2 * len(table):,} vectors of dim {args.dim}")
    if args.sweep:
        rows = sweep(vectors["s2"], args.queries, args.sweep_nprobe, args.sweep_refine, args.sweep_kind, args.nlist)
        if args.json:
            args.json.write_text(json.dumps({"pairs": len(table), "dim": args.dim, "sweep": rows}, indent=2))
        return 0
    settings = search_settings(table)
    results = {}
    if args.bundle and args.time_centroids:
        time_country_centroids(Bundle(args.bundle, verify=False))
        return 0
    if args.bundle:  # search an existing bundle: its own vectors and spec
        bundle = Bundle(args.bundle, verify=False)
        engines = {bundle.spec.kind: SearchEngine(bundle)}
        if args.baseline:
            engines[f"{bundle.spec.kind} without country centroids"] = SearchEngine(without_centroids(bundle))
        first_country_search(engines, bundle, settings)
        timed = latency(engines, bundle.embeddings, bundle.table, settings, args.queries)
        reports = {name: {"build_s": float("nan"), "index_bytes": sum(index_bytes(i) for i in bundle.indexes.values()),
                          "recall_at_10": bundle.manifest.get("recall_at_10", {}), "latency": timed[name]}
                   for name in engines}
        for name, report in reports.items():
            print_row(name, report)
        results.update(reports)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        for kind in [] if args.bundle else args.types:
            spec = choose_spec(kind, len(table), args.dim)
            spec.refine_factor, spec.ef_search = args.refine, args.ef_search
            for name in ("nprobe", "rerank", "nlist"):
                if getattr(args, name) is not None:
                    setattr(spec, name, getattr(args, name))
            faiss.omp_set_num_threads(os.cpu_count() or 1)  # building uses every core; SearchEngine sets 1
            path, report = write_synthetic_bundle(Path(folder) / f"bench-{kind}", table, vectors, spec)
            engine = SearchEngine(Bundle(path, verify=False))
            report["latency"] = latency({kind: engine}, vectors, table, settings, args.queries)[kind]
            results[kind] = report
            print_row(kind, report)
    if args.json:
        args.json.write_text(json.dumps({"pairs": len(table), "dim": args.dim, "results": results}, indent=2))
    return 0


def time_country_centroids(bundle) -> None:
    """Seconds of the build's country-centroid pass over each sensor's memory-mapped embeddings (in the page
    cache, as right after the index build that read them)."""
    import tempfile

    from csmae_core.retrieval.bundle import TABLE
    from csmae_core.retrieval.indexing import write_country_centroids

    with tempfile.TemporaryDirectory() as scratch:
        bundle.table[["country"]].to_parquet(Path(scratch) / TABLE)
        for sensor in bundle.sensors:
            float(np.asarray(bundle.embeddings[sensor]).sum())
            seconds = []
            for _ in range(3):
                started = time.perf_counter()
                write_country_centroids(Path(scratch), {sensor: bundle.indexes[sensor]},
                                        {sensor: bundle.embeddings[sensor]})
                seconds.append(time.perf_counter() - started)
            print(f"{sensor}: country centroids of {len(bundle.table):,} rows in {statistics.median(seconds):.2f} s "
                  f"(median of 3: {', '.join(f'{s:.2f}' for s in seconds)})", flush=True)


def first_country_search(engines: dict, bundle, settings: dict) -> None:
    """Milliseconds of each engine's first country-filtered search: it also reads the index's list of every row
    (and checks the country centroids against it), which later searches reuse."""
    from csmae_core.retrieval.search import Query

    targets, filters, _ = next(value for name, value in settings.items() if "country=" in name)
    for name, engine in engines.items():
        started = time.perf_counter()
        engine.search(Query(np.asarray(bundle.embeddings["s2"][0]), "s2"), targets, 10, filters, counterpart=False)
        print(f"{name}: first country-filtered search {(time.perf_counter() - started) * 1000:.0f} ms", flush=True)


def without_centroids(bundle):
    """The same loaded bundle (indexes and embeddings shared) as a bundle written without country centroids."""
    import copy

    plain = copy.copy(bundle)
    plain.country_centroids = {}
    return plain


def search_settings(table) -> dict:
    """name -> (target sensors, filters, with counterpart rank): the searches the app makes."""
    from csmae_core.retrieval.search import Filters

    counts = table["country"].value_counts()
    share = counts / len(table)
    middle = (share - 0.1).abs().idxmin()  # a country of about a tenth of the archive
    country = {name: Filters(countries=frozenset({name})) for name in (counts.index[0], middle, counts.index[-1])}
    return {"one sensor": (["s2"], Filters(), False), "both sensors": (["s1", "s2"], Filters(), False),
            **{f"one sensor, country={name} ({share[name]:.1%})": (["s2"], f, False) for name, f in country.items()},
            "one sensor, split=test": (["s2"], Filters(splits=frozenset({"test"})), False),
            "one sensor, exclude < 50 km": (["s2"], Filters(min_distance_km=50.0), False),
            "both sensors + counterpart rank (app)": (["s1", "s2"], Filters(), True)}


def print_row(kind: str, report: dict) -> None:
    recalls = [r for r in report["recall_at_10"].values() if r is not None]
    recall = f"{min(recalls):.3f}" if recalls else "1 (exact)"
    centroids = (f" (country centroids {report['country_centroids_s']:.1f} s of it)"
                 if "country_centroids_s" in report else "")
    print(f"\n{kind}: build {report['build_s']:.1f} s{centroids}, index {report['index_bytes'] / 2**30:.2f} GiB "
          f"(both sensors), recall@10 {recall}")
    for name, values in report["latency"].items():
        recall = "-" if values["recall_at_10"] is None else f"{values['recall_at_10']:.3f}"
        if values.get("max_shortfall") is not None:
            recall += f" (10th score short by <= {values['max_shortfall']:.3f})"
        print(f"  {name:38} p50 {values['p50_ms']:6.2f} ms  p95 {values['p95_ms']:6.2f} ms  (CPU p50 "
              f"{values['p50_cpu_ms']:6.2f}  p95 {values['p95_cpu_ms']:6.2f})  recall@10 {recall}")


if __name__ == "__main__":
    sys.exit(main())
