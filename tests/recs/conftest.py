"""Fixtures for the recommendation tests (data lives in recs_data.py)."""

from __future__ import annotations

import pandas as pd
import pytest
from recs_data import CATALOG, make_interactions


@pytest.fixture
def catalog() -> list[dict]:
    return [dict(p) for p in CATALOG]


@pytest.fixture
def interactions() -> pd.DataFrame:
    return make_interactions()
