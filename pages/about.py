"""About page: the model card, the bundle manifest, the data licence and attribution, and how to index
your own archive (the exact commands of scripts/)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import streamlit as st

from pages.ui.resources import ASSETS, Backend, current_backend
from pages.ui.safe_text import shown

DATA_README = ASSETS / "demo" / "README.md"
LICENCE_FALLBACK = """BigEarthNet is published under the Community Data License Agreement – Permissive, Version 1.0
(CDLA-Permissive-1.0). Contains modified Copernicus Sentinel data (2017-2018).

Cite: G. Sumbul et al., "BigEarthNet-MM: A Large-Scale, Multimodal, Multilabel Benchmark Archive for Remote
Sensing Image Classification and Retrieval", IEEE Geoscience and Remote Sensing Magazine (GRSM), 2021;
K. N. Clasen et al., "reBEN: Refined BigEarthNet Dataset for Remote Sensing Image Analysis", 2024."""

TRAIN = ("python scripts/train.py --config configs/csmae_secd.yaml --archive PATH "
         "--metadata PATH/metadata.parquet --out runs/secd --export models/secd.pt")
CONVERT = "python scripts/convert_checkpoint.py PUBLISHED_DIR models/published.pt"
BUILD = ("python scripts/build_index.py --model models/secd.pt --archive PATH "
         "--metadata PATH/metadata.parquet --out bundles/mine")
EVALUATE = "python scripts/evaluate.py --bundle bundles/mine --out evaluation/mine"
RUN_APP = "CSMAE_CATALOGUE=$PWD/catalogue.json streamlit run app.py"
EXAMPLE_CATALOGUE = {"entries": [{"name": "mine", "encoder_family": "csmae", "model": "models/secd.pt",
                                  "bundle": "bundles/mine", "archive": "PATH", "evaluation": "evaluation/mine",
                                  "card": "models/secd.md"}]}


# ---------------------------------------------------------------- model card
def card_markdown(card: dict) -> str:
    """A model card in markdown from a checkpoint's card dict (any field may be absent; every value is
    shown through pages.ui.safe_text: a checkpoint is a file too)."""
    model = card.get("model") or {}
    data = card.get("data") or {}
    model = {k: shown(v) for k, v in model.items() if not isinstance(v, (dict, list))}
    value = lambda mapping, key: shown(mapping.get(key, "?"))  # noqa: E731 - one escaping rule for every field
    lines = [f"- **Method**: {shown(card.get('method', 'csmae')).upper()}"]
    if card.get("variant") or model.get("variant"):
        lines.append(f"- **Variant**: {shown(card.get('variant', model.get('variant'))).upper()}")
    if "specific_depth" in model:
        lines.append(f"- **Size**: {value(model, 'size')} · embedding dimension {value(model, 'embed_dim')} · "
                     f"depth {value(model, 'depth')} ({value(model, 'specific_depth')} sensor-specific + "
                     f"{value(model, 'shared_depth')} shared blocks) · {value(model, 'num_heads')} heads · "
                     f"patch {value(model, 'patch_size')} px on {value(model, 'img_size')} px inputs")
    elif model:  # other families: their plain settings
        lines.append("- **Model**: " + ", ".join(f"{shown(k)} {v}" for k, v in model.items()))
    if data:
        used = "labels used" if data.get("labels_used") else "labels never used (self-supervised)"
        lines.append(f"- **Training data**: archive {value(data, 'archive')}, split {value(data, 'split')}, "
                     f"{value(data, 'pairs')} pairs; {used}")
    if "epochs" in card or "steps" in card:
        lines.append(f"- **Training**: {value(card, 'epochs')} epochs, {value(card, 'steps')} steps, "
                     f"precision {value(card, 'precision')}, wall time {value(card, 'wall_time_s')} s")
    if card.get("final_losses"):
        losses = ", ".join(f"{shown(k)} {shown(v)}" for k, v in card["final_losses"].items())
        lines.append(f"- **Final losses**: {losses}")
    if card.get("origin"):
        lines.append(f"- **Origin**: {shown(card['origin'], 400)}")
    return "\n".join(lines)


def model_facts(backend: Backend) -> tuple[dict, str, bool | None]:
    """(card, checkpoint content hash, input transposed or None) of the loaded model, or from the bundle
    manifest when the entry loads none."""
    if backend.encoder is not None:
        return backend.encoder.card, backend.encoder.content_hash, backend.encoder.transpose_input
    bundle = backend.bundle
    return bundle.model_card, bundle.model_hash, bundle.transpose_input


def show_model_card(backend: Backend) -> None:
    st.header("Model card")
    card, content_hash, transposed = model_facts(backend)
    card_path = Path(backend.entry["card"]) if backend.entry.get("card") else None
    if card_path is not None and card_path.is_file():
        st.markdown(card_path.read_text())
    elif card:
        st.markdown(card_markdown(card))
        if card.get("command"):
            st.markdown("**Training command**")
            st.code(card["command"], language="bash", wrap_lines=True)
    else:
        st.info("This model carries no card.")
    if backend.encoder is None:
        st.caption("No model file is loaded for this entry: the facts come from the bundle manifest.")
    model_file = f"  \n**Model file** {shown(backend.entry['model'], 300)}" if backend.entry.get("model") else ""
    st.markdown(f"**Checkpoint content hash** {shown(content_hash)}  \n**Input transposed** (published orientation): "
                f"{'yes' if transposed else 'no' if transposed is not None else 'unknown'}{model_file}")


# ---------------------------------------------------------------- bundle manifest
def show_manifest(backend: Backend) -> None:
    st.header("Index bundle")
    bundle = backend.bundle
    recall = bundle.recall_at_10
    recall_text = ", ".join(f"{s.upper()} {v:.3f}" for s, v in recall.items() if v is not None) or "exact (no loss)"
    archive = bundle.archive_source
    cols = st.columns(4)
    cols[0].metric("Pairs", f"{len(bundle.table):,}")
    cols[1].metric("Sensors", " + ".join(s.upper() for s in bundle.sensors))
    cols[2].metric("Dimension", str(bundle.dim))
    cols[3].metric("Index", bundle.spec.kind)
    st.markdown(f"- **Name**: {shown(bundle.name)} · encoder family {shown(bundle.family)}\n"
                f"- **Created**: {shown(bundle.created or '?')} · embeddings {shown(bundle.precision)}\n"
                f"- **Index recall@10 against exact search**: {recall_text}\n"
                f"- **Archive**: {shown(archive.get('path', '?'), 300)} ({shown(archive.get('source', '?'))})\n"
                f"- **Folder**: {shown(bundle.path, 300)}")
    with st.expander("Full manifest (JSON)"):
        st.json(bundle.manifest, expanded=False)


# ---------------------------------------------------------------- licence
def licence_text(readme: Path = DATA_README) -> str:
    """The 'Licence and attribution' section of the demo archive's README, or the standard text."""
    try:
        text = readme.read_text()
    except OSError:
        return LICENCE_FALLBACK
    match = re.search(r"^##\s+Licen[cs]e.*?$\n(.*?)(?=^#{1,2}\s|\Z)", text, flags=re.M | re.S)
    section = match.group(1).strip() if match else ""
    return re.sub(r"\s*\bCite:\s*", "\n\n**Cite**: ", section) if section else LICENCE_FALLBACK


def show_licence() -> None:
    st.header("Data licence and attribution")
    st.markdown(licence_text())
    st.caption("Licence text: assets/demo/LICENSE-CDLA-Permissive-1.0.txt. The model and index were built from "
               "BigEarthNet; retrieval results show modified Copernicus Sentinel data.")


# ---------------------------------------------------------------- your own archive
def show_own_archive() -> None:
    st.header("Index your own archive")
    st.markdown("PATH is a BigEarthNet archive folder (a v2 tree, a rico-hdl or encoder LMDB, or a packed "
                "archive); `PATH/metadata.parquet` is reBEN's metadata. Every command has `--help`.")
    st.markdown("**1. Train a model** (self-supervised; CPU, one GPU or many with `--accelerator`/`--devices`) "
                "— or convert a published CSMAE checkpoint instead:")
    st.code(f"{TRAIN}\n# or\n{CONVERT}", language="bash", wrap_lines=True)
    st.markdown("**2. Embed the archive and build the index bundle**:")
    st.code(BUILD, language="bash", wrap_lines=True)
    st.markdown("**3. Evaluate it** (the numbers of the Evaluation page):")
    st.code(EVALUATE, language="bash")
    st.markdown("**4. Point the app at it**: write a catalogue (paths relative to the catalogue file) like "
                "`assets/catalogue.json` and name it in the environment variable `CSMAE_CATALOGUE`:")
    st.code(json.dumps(EXAMPLE_CATALOGUE, indent=2), language="json")
    st.code(RUN_APP, language="bash")


def main() -> None:
    st.title("About")
    st.caption("Sensor-agnostic image retrieval in BigEarthNet Sentinel-1 / Sentinel-2 archives with CSMAE.")
    backend = current_backend()
    if backend is not None:
        show_model_card(backend)
        show_manifest(backend)
    show_licence()
    show_own_archive()


if __name__ == "__main__":
    main()
