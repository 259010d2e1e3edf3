"""Render a whole campaign in parallel on Dask: one task per chunk of recipients."""

from tailor.batch.campaign import BatchSummary, read_audience, render_campaign

__all__ = ["BatchSummary", "read_audience", "render_campaign"]
