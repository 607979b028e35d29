"""Full-scale proof: a bundle of the whole reBEN archive (549,488 pairs x 2 sensors = 1,098,976 vectors)
whose METADATA IS REAL and whose VECTORS ARE SYNTHETIC, a catalogue for it, and measurements of the app
serving it.

Real: pair ids, S1 names, labels, splits, countries, seasons, snow/cloud flags (reBEN metadata.parquet and
the snow/cloud table), footprints from the Sentinel-2 tile grid. Synthetic: the 768-d vectors, made by
csmae_core.retrieval.synthetic (each pair's real labels and country plus noise), so
search results are plausible but NOT the output of a model. The bundle is named
"reBEN full scale (synthetic vectors)" and its manifest says `encoder_family: synthetic`. It has no model
and no pixels: the app searches by archive patch only (shared link, map, table, random example).

    # build (about 4.2 GB on disk, minutes) and write OUT/../catalogue.json
    python scripts/build_scale_bundle.py --metadata PATH/metadata.parquet \
        --snow-cloud PATH/metadata_for_patches_with_snow_cloud_or_shadow.parquet --out SCALE_DIR/reben-synthetic
    # then start the app on it and measure start time, memory, browser latency (+ a 10-user load test)
    python scripts/build_scale_bundle.py --metadata ... --out ... --reuse --measure --load-users 10 --json scale.json
    # or just serve it
    CSMAE_CATALOGUE=SCALE_DIR/catalogue.json make run
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import faiss

from csmae_core.catalogue import write_catalogue
from csmae_core.io.folders import read_reben_metadata
from csmae_core.retrieval.bundle import bundle_table, synthetic_model_manifest
from csmae_core.retrieval.faiss_index import choose_spec
from csmae_core.retrieval.synthetic import synthetic_embeddings, write_synthetic_bundle

BUNDLE_NAME = "reBEN full scale (synthetic vectors)"
SNOW_CLOUD = "metadata_for_patches_with_snow_cloud_or_shadow.parquet"
SCALE_MODEL = synthetic_model_manifest(
    "none: synthetic vectors on real reBEN metadata",
    "no model: synthetic vectors from real reBEN labels and countries plus noise "
    "(csmae_core.retrieval.synthetic.synthetic_embeddings)", content_hash="synthetic-vectors")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--metadata", type=Path, required=True, help="reBEN metadata.parquet")
    p.add_argument("--snow-cloud", type=Path,
                   help=f"reBEN {SNOW_CLOUD} (default: that file next to --metadata when present)")
    p.add_argument("--out", type=Path, required=True, help="bundle folder to write (keep it out of the repository)")
    p.add_argument("--catalogue", type=Path, help="catalogue JSON to write (default: OUT/../catalogue.json)")
    p.add_argument("--index", default="ivfrabitq", help="index type (default ivfrabitq, what 'auto' picks at this size)")
    p.add_argument("--pairs", type=int, default=0, help="use only the first N pairs (0 = all)")
    p.add_argument("--dim", type=int, default=768)
    p.add_argument("--reuse", action="store_true", help="keep an existing bundle at --out (only write the catalogue)")
    p.add_argument("--measure", action="store_true",
                   help="start the app on the bundle and measure start time, memory and browser latency")
    p.add_argument("--searches", type=int, default=5, help="--measure: searches on the Search page")
    p.add_argument("--load-users", type=int, default=0, help="--measure: then run the load test with N users")
    p.add_argument("--load-duration", type=float, default=60.0, help="--measure: load test seconds")
    p.add_argument("--load-clients", nargs="+", default=["protocol", "browser"], choices=("protocol", "browser"),
                   help="--measure: load test clients (see scripts/load_test.py --client)")
    p.add_argument("--json", type=Path, help="write the report here")
    return p.parse_args(argv)


def snow_cloud_of(metadata: Path, given: Path | None) -> Path | None:
    if given is not None:
        return given
    sibling = metadata.with_name(SNOW_CLOUD)
    return sibling if sibling.is_file() else None


def build(metadata: Path, out: Path, snow_cloud: Path | None = None, index: str = "ivfrabitq", pairs: int = 0,
          dim: int = 768) -> dict:
    """Write the bundle at `out`; returns timings (seconds) and sizes."""
    started = time.perf_counter()
    table = bundle_table(read_reben_metadata(metadata, snow_cloud))
    if pairs:
        table = table.iloc[:pairs].reset_index(drop=True)
    table_s = time.perf_counter() - started
    vectors = synthetic_embeddings(table, dim)
    vectors_s = time.perf_counter() - started - table_s
    print(f"{len(table):,} pairs x 2 sensors = {2 * len(table):,} synthetic vectors of dim {dim} "
          f"(metadata {table_s:.1f} s, vectors {vectors_s:.1f} s); building {index} ...", flush=True)
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    spec = choose_spec(index, len(table), dim)
    archive = {"path": str(metadata), "source": "reBEN metadata (real) + synthetic vectors"}
    path, report = write_synthetic_bundle(out, table, vectors, spec, name=BUNDLE_NAME, model=SCALE_MODEL,
                                          archive=archive, precision="fp32 (synthetic)")
    total_s = time.perf_counter() - started
    size = sum(f.stat().st_size for f in path.iterdir())
    result = {"pairs": len(table), "vectors": 2 * len(table), "dim": dim, "index": spec.kind,
              "build_total_s": round(total_s, 1), "metadata_s": round(table_s, 1), "vectors_s": round(vectors_s, 1),
              "index_build_s": round(report["build_s"], 1), "index_bytes": report["index_bytes"],
              "recall_at_10": report["recall_at_10"], "bundle_bytes": size}
    print(f"wrote {path}: {size / 2**30:.2f} GiB in {total_s:.0f} s (index build {report['build_s']:.0f} s, "
          f"recall@10 {recall_text(report['recall_at_10'])})", flush=True)
    return result


def recall_text(recalls: dict) -> str:
    """The worst sensor's recall@10, or "exact" for an exact index (its report holds None)."""
    known = [value for value in recalls.values() if value is not None]
    return f"{min(known):.3f}" if known else "exact"


def write_scale_catalogue(bundle: Path, catalogue: Path) -> Path:
    """A catalogue with one entry and no model: search by archive patch only."""
    entry = {"name": BUNDLE_NAME, "encoder_family": "synthetic", "bundle": str(bundle),
             "note": "real reBEN metadata, synthetic vectors: no model, no pixels; search by archive patch only"}
    return write_catalogue(catalogue, [entry])


def main(argv=None) -> int:
    args = parse_args(argv)
    report: dict = {"bundle": str(args.out), "name": BUNDLE_NAME}
    if not (args.reuse and (args.out / "manifest.json").is_file()):
        report["build"] = build(args.metadata, args.out, snow_cloud_of(args.metadata, args.snow_cloud), args.index,
                                args.pairs, args.dim)
    catalogue = write_scale_catalogue(args.out, args.catalogue or args.out.parent / "catalogue.json")
    report["catalogue"] = str(catalogue)
    print(f"catalogue: {catalogue}  (serve it: CSMAE_CATALOGUE={catalogue} make run)")
    if args.measure:
        # the browser side only when measuring; it lives in scripts/loadtest (on the path when this script runs)
        from loadtest.measure import measure_app

        report.update(measure_app(catalogue, args.searches, args.load_users, args.load_duration, args.load_clients))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
