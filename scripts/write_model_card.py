"""Write a model card (markdown) from a checkpoint's embedded card (any encoder family) and, optionally, its evaluation.

    python scripts/write_model_card.py assets/models/demo.pt --evaluation assets/evaluation/demo \
        --out assets/models/demo.md [--note "free text"]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from csmae_core import CsmaeError, load_model
from csmae_core.evaluation.report import read_report


def metrics_table(metrics: dict, k: str = "5") -> list[str]:
    lines = [f"| model / baseline | direction | P@{k} | mAP@{k} | counterpart MRR | counterpart @1 |", "|---|---|---|---|---|---|"]
    rows = [(name, entry["directions"]) for name, entry in metrics["models"].items()]
    rows += list(metrics["baselines"].items())
    for name, directions in rows:
        for direction, values in directions.items():
            mrr = values.get("counterpart_mrr")
            at1 = values.get("counterpart_at_1")
            lines.append(f"| {name} | {direction.replace('_', '→').upper()} | {values['precision'][k]:.3f} | "
                         f"{values['map'][k]:.3f} | {'' if mrr is None else f'{mrr:.3f}'} | "
                         f"{'' if at1 is None else f'{at1:.2f}'} |")
    return lines


def render(path: Path, evaluation: Path | None, note: str) -> str:
    encoder = load_model(path, "cpu")
    card, data = encoder.card, encoder.card.get("data", {})
    spaces = "one space for S1 and S2" if encoder.cross_sensor else "S1 and S2 in separate spaces"
    lines = [f"# Model card: {path.name}", "",
             f"- **Encoder**: {encoder.describe()} (family `{encoder.family}`; sensors "
             f"{', '.join(s.upper() for s in encoder.sensors)}; {spaces})",
             f"- **Configuration**: `{json.dumps(encoder.config_dict(), sort_keys=True)}`",
             f"- **Encoder content hash**: `{encoder.content_hash}`",
             *[f"- **Same weights under an earlier key layout** (bundles built before it): `{alias}`"
               for alias in encoder.hash_aliases],
             f"- **Input**: bands from the band table, normalised; transposed input: {encoder.transpose_input}",
             f"- **Training data**: {data.get('pairs')} pairs of split '{data.get('split')}' of the {data.get('archive')} "
             f"archive; labels used: {data.get('labels_used')}",
             f"- **Training**: {card.get('epochs')} epochs, {card.get('steps')} steps, precision {card.get('precision')}, "
             f"{card.get('wall_time_s')} s wall time",
             f"- **Final losses**: {json.dumps(card.get('final_losses', {}))}",
             f"- **Command**: `{card.get('command')}`", ""]
    if note:
        lines += [note, ""]
    if evaluation and (evaluation / "metrics.json").is_file():
        metrics = read_report(evaluation / "metrics.json").data
        protocol = metrics["protocol"]
        lines += [f"## Retrieval ({protocol['query_count']} queries of split(s) {protocol['queries']} against "
                  f"{protocol['archive_count']} pairs of split(s) {protocol['archive']})", "",
                  *metrics_table(metrics), "", f"Produced by: `{metrics['command']}`", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="checkpoint with an embedded card (scripts/train.py --export)")
    parser.add_argument("--evaluation", type=Path, help="folder with metrics.json (scripts/evaluate.py)")
    parser.add_argument("--out", type=Path, required=True, help="markdown file to write")
    parser.add_argument("--note", default="", help="free text added after the facts (e.g. what the model has seen)")
    args = parser.parse_args(argv)
    try:
        args.out.write_text(render(args.model, args.evaluation, args.note))
    except CsmaeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
