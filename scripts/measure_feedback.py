"""Does relevance feedback help? A simulated user on the demo's held-out pairs: each query is searched, the
user marks the top-10 by their labels (positive: Jaccard of label sets >= 0.5 with the query; negative: no
label shared), the examples refine the query (csmae_core.retrieval.feedback), twice. Reported per direction:
mean label precision@10 (the app's P@k) of the single query and after one and two rounds.

    python scripts/measure_feedback.py                       # assets/bundles/demo-train, both rounds
    python scripts/measure_feedback.py --bundle assets/bundles/demo --weight 0.25 --json out.json

Held-out: queries and archive are the validation and test pairs (36 on the demo); a query's own pair is
never a result. With 36 queries, differences of a few hundredths are noise.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SPLITS = frozenset({"validation", "test"})
DIRECTIONS = (("s1", "s1"), ("s2", "s2"), ("s1", "s2"), ("s2", "s1"))


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", type=Path, default=ROOT / "assets" / "bundles" / "demo-train")
    p.add_argument("--weight", type=float, default=0.5, help="weight of the negative examples")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--json", type=Path)
    return p.parse_args(argv)


def jaccard(a: list[str], b: list[str]) -> float:
    a, b = set(a), set(b)
    return len(a & b) / len(a | b) if a | b else 0.0


def judged(bundle, results, query_labels: list[str], seen: set) -> list:
    """The simulated user's new examples among `results` (each result judged once)."""
    from csmae_core.retrieval.feedback import Example

    examples = []
    for result in results:
        key = (result.sensor, result.row)
        overlap = jaccard(query_labels, result.labels)
        if key in seen or 0 < overlap < 0.5:
            continue
        seen.add(key)
        examples.append(Example(bundle.embeddings[result.sensor][result.row], result.sensor, overlap >= 0.5,
                                result.id, result.row))
    return examples


def run_query(engine, bundle, row: int, source: str, target: str, args) -> list[float]:
    """P@k of one query for round 0..rounds."""
    from csmae_core.retrieval.feedback import Example, feedback_vector
    from csmae_core.retrieval.queries import archive_query
    from csmae_core.retrieval.search import Filters, Query

    query = archive_query(bundle, row, source)
    examples, seen, precisions = [Example(query.embedding, source, True, query.name, row)], set(), []
    current = query
    for _ in range(args.rounds + 1):
        response = engine.search(current, [target], args.k, Filters(splits=SPLITS), counterpart=False)
        precisions.append(response.metrics["P@k"])
        examples += judged(bundle, response.results, query.labels, seen)
        vector = feedback_vector(examples, args.weight, bundle.cross_sensor)
        current = Query(vector, source, query.labels, query.lonlat, row, query.name)
    return precisions


def main(argv=None) -> int:
    from csmae_core.retrieval.bundle import Bundle
    from csmae_core.retrieval.search import SearchEngine

    args = parse_args(argv)
    bundle = Bundle(args.bundle)
    engine = SearchEngine(bundle)
    rows = np.flatnonzero(bundle.table["split"].isin(SPLITS).to_numpy())
    print(f"{bundle.name}: {len(rows)} held-out queries, archive = the same {len(rows)} pairs, k={args.k}, "
          f"negative weight {args.weight}")
    print(f"{'direction':10} " + " ".join(f"{'P@k round ' + str(r):>12}" for r in range(args.rounds + 1)))
    table = {}
    for source, target in DIRECTIONS:
        if not ({source, target} <= set(bundle.indexes)) or (source != target and not bundle.cross_sensor):
            continue
        per_query = np.array([run_query(engine, bundle, int(row), source, target, args) for row in rows])
        name = f"{source.upper()}->{target.upper()}"
        table[name] = per_query.mean(axis=0).tolist()
        print(f"{name:10} " + " ".join(f"{value:12.3f}" for value in table[name]))
    if args.json:
        args.json.write_text(json.dumps({"bundle": bundle.name, "queries": len(rows), "weight": args.weight,
                                         "precision_at_k": table}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
