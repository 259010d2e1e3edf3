"""Fixtures of the example shop (helpers live in shop_data.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from shop_data import ROOT

from tailor import Tailor
from tailor.preview.personas import load_personas
from tailor.recommendations import RecommendationService
from tailor.recommendations.training import fit_models, read_catalog_file, read_events_file


@pytest.fixture(scope="session")
def shop_recommender() -> RecommendationService:
    catalog = read_catalog_file(ROOT / "fixtures" / "catalog.csv")
    models = fit_models(read_events_file(ROOT / "fixtures" / "events.jsonl"), catalog)
    return RecommendationService(catalog, models)


@pytest.fixture(scope="session")
def shop(shop_recommender) -> Tailor:
    return Tailor(ROOT / "templates", ROOT / "rules", recommender=shop_recommender)


@pytest.fixture(scope="session")
def personas() -> dict:
    return load_personas(ROOT / "fixtures" / "personas")
