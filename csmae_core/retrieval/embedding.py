"""Embedding a whole archive as a Lightning predict: one process or many GPUs/nodes, each rank writing
its rows to shard files, merged afterwards into one (N, D) array per sensor. Memory stays bounded: pairs
are read by DataLoader workers, and a rank holds at most `flush_rows` embeddings before writing a shard.

Several processes: only the launching process (global rank 0) creates the work folder; every other rank
learns its path from rank 0 once the process group is up (`ShardWriter.setup`), so all ranks write into
one folder (on a filesystem every node sees), and rank 0 merges after a barrier.
"""
from __future__ import annotations

import os
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from torch.utils.data import DataLoader, Dataset

from csmae_core.bands import SENSORS
from csmae_core.errors import CsmaeError
from csmae_core.io.archive import PairArchive
from csmae_core.models.base import EncoderBase
from csmae_core.preprocess import model_input
from csmae_core.training.parallel import DEFAULT_TIMEOUT_S, ddp_strategy


class ArchiveInputs(Dataset):
    """(row, S1 input, S2 input) of every pair, in the encoder's orientation."""

    def __init__(self, archive: PairArchive, transpose: bool):
        self.archive, self.transpose = archive, transpose

    def __len__(self) -> int:
        return len(self.archive)

    def __getitem__(self, row: int):
        pair = self.archive[row]
        return row, model_input(pair.s1, self.transpose), model_input(pair.s2, self.transpose)


class EmbedModule(L.LightningModule):
    """Embeds the sensors the encoder supports (both through `embed_pair`, which CSMAE computes in one
    pass; one sensor alone, e.g. S2 for an RGB-only model, through `embed`)."""

    def __init__(self, encoder: EncoderBase):
        super().__init__()
        self.backbone = encoder.backbone
        self.sensors = tuple(s for s in SENSORS if s in encoder.sensors)
        self.precision_mode = encoder.precision

    def predict_step(self, batch, batch_index):
        rows, x_s1, x_s2 = batch
        if self.sensors == SENSORS:
            vectors = dict(zip(SENSORS, self.backbone.embed_pair(x_s1, x_s2)))
        else:
            vectors = {s: self.backbone.embed({"s1": x_s1, "s2": x_s2}[s], s) for s in self.sensors}
        return rows.cpu().numpy(), {s: v.float().cpu().numpy() for s, v in vectors.items()}


class ShardWriter(BasePredictionWriter):
    """Buffers (rows, embeddings) per rank and writes them as `shard-r<rank>-<n>.npz` files."""

    def __init__(self, directory: Path | None, flush_rows: int = 16384):
        super().__init__(write_interval="batch")
        self.directory, self.flush_rows = directory, flush_rows
        self.buffer: list[tuple] = []
        self.count = 0

    def setup(self, trainer, pl_module, stage: str) -> None:
        # Each process was started on its own (Lightning's launcher, torchrun, SLURM): rank 0's folder is
        # the one folder, told to the others now that they can talk.
        self.directory = Path(trainer.strategy.broadcast(str(self.directory) if self.directory else None, src=0))

    def write_on_batch_end(self, trainer, module, prediction, batch_indices, batch, batch_index, dataloader_index):
        self.buffer.append(prediction)
        if sum(len(p[0]) for p in self.buffer) >= self.flush_rows:
            self.flush(trainer.global_rank)

    def on_predict_epoch_end(self, trainer, module):
        self.flush(trainer.global_rank)

    def flush(self, rank: int) -> None:
        if not self.buffer:
            return
        rows = np.concatenate([p[0] for p in self.buffer])
        vectors = {s: np.concatenate([p[1][s] for p in self.buffer]) for s in self.buffer[0][1]}
        np.savez(self.directory / f"shard-r{rank}-{self.count:05d}.npz", rows=rows, **vectors)
        self.buffer, self.count = [], self.count + 1


def merge_shards(directory: Path, count: int, dim: int, out_dir: Path,
                 sensors: tuple[str, ...] = SENSORS) -> dict[str, Path]:
    """Shards -> one embeddings_<sensor>.npy per sensor (memory-mapped, so never all in RAM)."""
    outputs = {s: out_dir / f"embeddings_{s}.npy" for s in sensors}
    arrays = {s: np.lib.format.open_memmap(p, mode="w+", dtype=np.float32, shape=(count, dim))
              for s, p in outputs.items()}
    seen = np.zeros(count, dtype=bool)
    for shard in sorted(directory.glob("shard-*.npz")):
        with np.load(shard) as data:
            for sensor in sensors:
                arrays[sensor][data["rows"]] = data[sensor]
            seen[data["rows"]] = True
    if not seen.all():
        raise CsmaeError(f"{int((~seen).sum())} pairs were not embedded (a worker failed?); rerun the build")
    for array in arrays.values():
        array.flush()
    return outputs


def is_launching_process() -> bool:
    """Whether this process is global rank 0 of the run it belongs to, decided from the launcher's environment
    before any process group exists (torchrun/SLURM set a global rank; Lightning's launcher sets NODE_RANK and
    LOCAL_RANK, and a second node's first process must not count as rank 0)."""
    for variable in ("RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        if os.environ.get(variable) is not None:
            return int(os.environ[variable]) == 0
    node = int(os.environ.get("NODE_RANK") or os.environ.get("GROUP_RANK") or 0)
    return node == 0 and int(os.environ.get("LOCAL_RANK") or 0) == 0


def embed_archive(encoder: EncoderBase, archive: PairArchive, work_dir: Path | None, batch_size: int = 64,
                  num_workers: int = 0, accelerator: str = "auto", devices="auto", num_nodes: int = 1,
                  strategy: str = "auto", progress: bool = True, timeout_s: float = DEFAULT_TIMEOUT_S
                  ) -> dict[str, Path]:
    """Embed every pair with each sensor the encoder supports; returns the merged .npy paths in `work_dir`
    on rank 0 and {} on other ranks, which pass `work_dir=None` (they learn rank 0's folder)."""
    shards = work_dir / "shards" if work_dir is not None else None
    if shards is not None:
        shards.mkdir(parents=True, exist_ok=True)
    loader = DataLoader(ArchiveInputs(archive, encoder.transpose_input), batch_size=batch_size, shuffle=False,
                        num_workers=num_workers)
    precision = "bf16-mixed" if encoder.precision == "bf16" else "32-true"
    trainer = L.Trainer(accelerator=accelerator, devices=devices, num_nodes=num_nodes,
                        strategy=ddp_strategy(strategy, timeout_s),
                        precision=precision, logger=False, callbacks=[ShardWriter(shards)],
                        enable_progress_bar=progress, enable_model_summary=False)
    module = EmbedModule(encoder)
    trainer.predict(module, loader, return_predictions=False)
    trainer.strategy.barrier()  # every rank's last shard is written before rank 0 merges
    if not trainer.is_global_zero:
        return {}
    if work_dir is None:
        raise CsmaeError("this process became global rank 0 but did not create the work folder: start rank 0 "
                         "with NODE_RANK=0 (or RANK=0) and the other processes with their own ranks")
    outputs = merge_shards(shards, len(archive), encoder.dim, work_dir, module.sensors)
    for shard in shards.glob("*.npz"):
        shard.unlink()
    shards.rmdir()
    return outputs


@torch.inference_mode()
def embed_inputs(encoder: EncoderBase, inputs: dict[str, torch.Tensor], batch_size: int = 64) -> dict[str, np.ndarray]:
    """In-memory embedding of preprocessed inputs {sensor: (N, C, H, W)} (small archives, evaluation);
    sensors the encoder cannot embed (e.g. S1 for an RGB-only model) are left out."""
    return {sensor: np.concatenate([encoder.embed(x[i:i + batch_size], sensor).cpu().numpy()
                                    for i in range(0, len(x), batch_size)])
            for sensor, x in inputs.items() if sensor in encoder.sensors}
