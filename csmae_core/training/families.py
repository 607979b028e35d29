"""Which LightningModule trains which method (the config's top-level `method`)."""
from __future__ import annotations

from csmae_core.training.cmid import CMIDLightning
from csmae_core.training.csmae import CSMAELightning

LIGHTNING_MODULES = {"csmae": CSMAELightning, "cmid": CMIDLightning}
