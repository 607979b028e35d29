"""CMID (Muhtar et al., "CMID: A Unified Self-Supervised Learning Framework for Remote Sensing Image
Understanding", IEEE TGRS 2023) as a second encoder family, with our cross-sensor S1/S2 extension.

  config.py      CMIDConfig                      losses.py   the losses and schedules (pure functions)
  backbones.py   timm ViT / ResNet-50 / Swin     masking.py  block masks, mean fill
  heads.py       reconstruction, projector, prototypes
  model.py       CMID: student, EMA teacher, three branches
  checkpoint.py  our project format and Lightning files
  official.py    the official ResNet-50 / Swin-B checkpoints (S2 true colour)
  encoder.py     the retrieval encoders (load_model comes here for CMID files)
Training (csmae_core.training): cmid.py holds CMIDLightning, views.py the two co-registered views with
pixel locations. See docs/CMID.md.
"""
