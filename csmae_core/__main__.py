import sys

from csmae_core.cli import main

sys.exit(main())
