"""Previewing an experiment variant: ``Tailor.render(variants=...)`` shows it and counts nobody as exposed."""

from __future__ import annotations

import json
from pathlib import Path

from tailor import Tailor
from tailor.experiments.exposures import exposure_frame
from tailor.store import Store

ROOT = Path(__file__).resolve().parents[2]
AT = "2026-11-23T12:00:00Z"


def test_a_chosen_variant_is_rendered_and_never_recorded_as_an_exposure(tmp_path):
    url = f"sqlite:///{tmp_path / 'tailor.db'}"
    store = Store(url)
    store.migrate()
    tailor = Tailor(ROOT / "templates", ROOT / "rules", url)
    doc = json.loads((ROOT / "fixtures" / "personas" / "sparse-data.json").read_text())
    for variant, hero in (("gift-guide", "hero/gift-guide"), ("control", "hero/generic"), ("holdout", "hero/generic")):
        email = tailor.render("newsletter", profile=doc, at=AT, variants={"winter-hero": variant})
        assert email.blocks["hero"] == hero
        assert email.experiments == {"winter-hero": {"variant": variant, "holdout": variant == "holdout"}}
        entry = next(d for d in email.decisions if d.get("experiment") == "winter-hero")
        assert entry["why"] == "chosen in the preview"
    assert exposure_frame(tailor.store, "winter-hero").empty
    # an unknown variant name is ignored: the recipient's own assignment applies (still a preview: not recorded)
    email = tailor.render("newsletter", profile=doc, at=AT, variants={"winter-hero": "no-such-variant"})
    assert "why" not in next(d for d in email.decisions if d.get("experiment") == "winter-hero")
    assert exposure_frame(tailor.store, "winter-hero").empty
    tailor.render("newsletter", profile=doc, at=AT)  # a send: the store does record exposures
    assert len(exposure_frame(tailor.store, "winter-hero")) == 1
    store.close()


def test_a_targeted_rule_still_wins_over_a_chosen_variant():
    tailor = Tailor(ROOT / "templates", ROOT / "rules", None)
    doc = json.loads((ROOT / "fixtures" / "personas" / "cart-abandoner.json").read_text())
    email = tailor.render(
        "newsletter", profile=doc, at=AT, variants={"winter-hero": "gift-guide"}, record_exposure=False
    )
    assert email.blocks["hero"] == "hero/cart-reminder"
