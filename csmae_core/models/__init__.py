"""Encoder families behind one interface (`base.EncoderBase`): `csmae/` and `cmid/` are siblings that never
import each other; `weights.py` reads checkpoint files safely, `load.py` asks each family whether a file is
its own (`load_model`)."""
