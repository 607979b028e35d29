"""Convert a CSMAE checkpoint into the project's plain-data format.

    python scripts/convert_checkpoint.py PUBLISHED_DIR_OR_CKPT OUT.pt [--with-decoders]

Input: a published checkpoint folder (cfg.yaml + weights.ckpt), a Lightning checkpoint written by
the published training code or by scripts/train.py, or a project checkpoint of an earlier format version
(version 1: published key names). Output, in format version 2 (this model's key names): a file that
`torch.load(weights_only=True)` reads, with config, band table, normalisation, input orientation, encoder
hash (and the hashes of the same weights under earlier key layouts) and a model card.
Nothing in the input is executed (Lightning pickles are read with a restricted unpickler).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from csmae_core.errors import CsmaeError
from csmae_core.models.csmae.checkpoint import load_checkpoint, save_checkpoint


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="published folder, Lightning .ckpt or a version-1 project .pt")
    parser.add_argument("output", type=Path, help="where to write the converted checkpoint (.pt)")
    parser.add_argument("--with-decoders", action="store_true",
                        help="keep the decoders (to continue training); the app needs only the encoder")
    args = parser.parse_args(argv)
    try:
        checkpoint = load_checkpoint(args.source)
        checkpoint.build_encoder()  # refuse before writing anything if the weights do not fit
        checkpoint.card.setdefault("converted_from", str(args.source.name))
        digest = save_checkpoint(checkpoint, args.output, include_decoders=args.with_decoders)
    except CsmaeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    cfg = checkpoint.config
    print(f"wrote {args.output}: {cfg.variant.upper()} {cfg.embed_dim}-d, {cfg.specific_depth}+{cfg.shared_depth} "
          f"blocks, transpose_input={checkpoint.transpose_input}, encoder hash {digest[:12]}"
          + "".join(f" (earlier key layout: {alias[:12]})" for alias in checkpoint.hash_aliases))
    return 0


if __name__ == "__main__":
    sys.exit(main())
