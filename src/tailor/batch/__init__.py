"""Render a whole campaign in parallel on Dask: the audience streamed in partitions, one shard per partition."""

from tailor.batch.campaign import (
    BatchSummary,
    check_audience,
    iter_audience,
    iter_rendered,
    render_partition,
    run_campaign,
)

__all__ = ["BatchSummary", "check_audience", "iter_audience", "iter_rendered", "render_partition", "run_campaign"]
