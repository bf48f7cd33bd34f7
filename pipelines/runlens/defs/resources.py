"""The one resource: where this deployment's data lives."""

import dagster as dg

from runlens.config import Settings
from runlens.defs.failures import one_line_failure

# Every asset that writes to the lake is in this pool, which dagster.yaml gives one slot: two runs never write at once.
LAKE_POOL = "runlens_lake"


class RunlensResource(dg.ConfigurableResource):
    """The data root (exports, lake, warehouse); empty means RUNLENS_DATA_DIR or ./data, read at run time."""

    data_dir: str = ""

    def settings(self) -> Settings:
        """This deployment's settings; a setting runlens cannot use fails the step (or tick) with its one line."""
        with one_line_failure():
            return Settings.from_env(self.data_dir or None)


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"runlens": RunlensResource()})
