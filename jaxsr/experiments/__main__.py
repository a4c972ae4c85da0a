"""``python -m jaxsr.experiments {depth,residual,scales} --workdir DIR --data.folders=.../T91``."""

import sys

from jaxsr.experiments.main import main

sys.exit(main())
