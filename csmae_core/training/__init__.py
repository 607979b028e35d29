"""Training with PyTorch Lightning: `config` (one YAML per experiment), `data` and `schedules` shared by
every family, one LightningModule per family (`csmae`, `cmid`; CMID's two-view data in `views`).
`families.LIGHTNING_MODULES` maps a config's method to its module; each module builds its dataset
(`make_dataset`) and exports its trained encoder (`export`). `parallel`: what several processes (GPUs,
nodes) change: the models see the global batch, DDP gets a bounded timeout."""
