"""The OpenAPI document describes every route the service serves (and only those)."""

from __future__ import annotations

import re

from openapi_spec_validator import validate
from webtools import ROOT

from tailor.config import Settings
from tailor.web import create_app
from tailor.web.openapi import openapi_document


def _shape(path: str) -> str:
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)


def test_every_api_route_is_documented(tmp_path):
    settings = Settings(
        templates=ROOT / "templates", rules=ROOT / "rules", database_url=f"sqlite:///{tmp_path / 'o.db'}"
    )
    app = create_app(settings)
    served = {
        (_shape(rule.rule), method)
        for rule in app.url_map.iter_rules()
        if not rule.rule.startswith(("/preview", "/static"))
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    doc = openapi_document()
    validate(doc)
    documented = {
        (_shape(path), method.upper())
        for path, item in doc["paths"].items()
        for method in item
        if method in ("get", "post", "put", "delete", "patch")
    }
    assert served - documented == set(), "routes missing from /openapi.json"
    assert documented - served == set(), "documented routes that do not exist"
