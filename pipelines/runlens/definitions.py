"""The one Dagster entry point: everything under runlens/defs/."""

import dagster as dg

from runlens.config import PROJECT_DIR


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=PROJECT_DIR)
