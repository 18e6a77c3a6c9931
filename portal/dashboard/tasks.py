"""Celery task of the dashboard, found by portal/celery.py's autodiscovery of portal.dashboard."""

from celery import shared_task

from .analysis_summary import analysis_summary_refresh
from .summary import summary_refresh


@shared_task(name="portal.refresh_dashboard_summary", ignore_result=True)
def refresh_dashboard_summary() -> int | None:
    """Rebuild the dashboard's pre-aggregated figures. Return the number of tasks read, or None
    when another rebuild was running."""
    run = summary_refresh()
    return None if run is None else run.task_count


@shared_task(name="portal.refresh_analysis_summary", ignore_result=True)
def refresh_analysis_summary() -> int | None:
    """Rebuild the next-campaign analysis's pre-aggregated figures. Return the id of the run,
    or None when another rebuild was running."""
    run = analysis_summary_refresh()
    return None if run is None else run.pk
