"""The one Dagster entry point: everything under runlens/defs/."""

import dagster as dg

from runlens import defs as defs_package
from runlens.config import PROJECT_DIR


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_defs(defs_root=defs_package, project_root=PROJECT_DIR)
