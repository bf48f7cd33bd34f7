"""The refresh plan's pieces not covered elsewhere: the span of linked days one Dagster run holds, and which earlier
runs of a plan stop its final run from marking the ingests applied (both survived a mutation audit)."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg
import pytest
from runlens.refresh import PLAN_TAG, day_clusters, earlier_step_failed


@pytest.mark.parametrize(("span", "together"), [(31, True), (32, False)])
def test_the_days_a_run_moves_between_share_a_refresh_run_up_to_31_days_apart(span: int, together: bool) -> None:
    """docs/reliability.md: a run whose records lie on days "more than 31 days apart" is moved by two runs of a
    refresh plan; at 31 days it is one run, over every day between (the property test takes the bound from the
    code, and the plan tests move runs 14 and 70 days)."""
    first, last = date(2026, 3, 1), date(2026, 3, 1) + timedelta(days=span)
    clusters = day_clusters([frozenset([first, last])], date(2020, 1, 1), date(2030, 1, 1))
    assert clusters == ([[first, last]] if together else [[first], [last]])


@pytest.mark.parametrize(
    "status",
    [dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED, dg.DagsterRunStatus.CANCELING],
    ids=["failed", "canceled", "canceling"],
)
def test_a_failed_or_canceled_run_of_the_plan_keeps_its_final_run_from_marking_the_ingests_applied(
    status: dg.DagsterRunStatus,
) -> None:
    """A canceled run of a plan did not rebuild its days either: were the ingests marked applied, those days would
    never be rebuilt. Runs of another plan, and a run that succeeded, do not count."""
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_run(dg.DagsterRun(job_name="__ASSET_JOB", status=status, tags={PLAN_TAG: "other-plan"}))
        instance.add_run(
            dg.DagsterRun(job_name="__ASSET_JOB", status=dg.DagsterRunStatus.SUCCESS, tags={PLAN_TAG: "p"})
        )
        assert not earlier_step_failed(instance, "p")
        instance.add_run(dg.DagsterRun(job_name="__ASSET_JOB", status=status, tags={PLAN_TAG: "p"}))
        assert earlier_step_failed(instance, "p")
