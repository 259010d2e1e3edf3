"""What the store says about each window: the inputs of a drift report.

The recent window is ``[at - window, at)``, the reference ``[at - window - reference,
at - window)``. From the events of each window this module builds the checks of
:mod:`tailor.monitor.drift`:

- volume per event kind (a track event's name, else the message type) and in all: a
  source that stops sending, or sends twice, is a pipeline break;
- the mix of event kinds;
- the computed features of the profiles active in each window, as of the window's end
  (recent-behaviour numbers by KS, labels such as ``lifecycle_stage`` by their shares);
- the share of those profiles in each segment (one rate check per segment), when the
  caller passes ``segments_of`` (it needs the rules, which the store does not have);
- from the sends log: the blocks chosen and the rules that won, per slot; each fallback
  reason's share of sends (a jump is a pipeline break: a service down, data missing);
  and per recommender, the share of sends whose shown products were clicked or bought
  within 3 days (a fall is model decay). Control-group sends are left out of all but
  the fallbacks.

Profiles that refused personalization are left out, as everywhere features are computed.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from tailor.features.names import LABEL_FEATURES, RECENT_NUMERIC_FEATURES
from tailor.monitor.drift import Check, DriftThresholds, ks_check, rate_check, shares_check, volume_check
from tailor.vocabulary.times import to_utc

#: segment membership is computed per profile: a window's sample is capped at this many
SEGMENT_SAMPLE = 2000


def drift_checks(
    store: Any,
    at: datetime,
    thresholds: DriftThresholds,
    *,
    segments_of: Callable[[str, datetime], list[str]] | None = None,
) -> list[Check]:
    """Every check comparing the recent window with the reference, read from ``store``."""
    from tailor.features import compute_features_frame

    at = to_utc(at)
    current_start = at - thresholds.window
    reference_start = current_start - thresholds.reference
    events = store.events_frame()
    refused = store.personalization_refused()
    events = events[~events["profile_id"].isin(refused) & (events["timestamp"] < pd.Timestamp(at))]
    events = events.assign(kind=events["event"].where(events["type"] == "track", events["type"]).fillna(""))
    in_current = events["timestamp"] >= pd.Timestamp(current_start)
    in_reference = ~in_current & (events["timestamp"] >= pd.Timestamp(reference_start))
    recent, before = events[in_current], events[in_reference]

    # more events from proportionally more people is a bigger audience; more events from
    # the same people (a source sending twice), or fewer events at all, is a pipeline break
    audience_growth = _daily(recent["profile_id"].nunique(), thresholds.window.days or 1) / max(
        _daily(before["profile_id"].nunique(), thresholds.reference.days or 1), 1e-9
    )

    def volume(name: str, reference_count: int, current_count: int) -> Check:
        check = volume_check(name, reference_count, thresholds.reference, current_count, thresholds.window)
        if check.effect > 0 and audience_growth - 1 >= check.effect / 2:
            return replace(check, cause="audience")
        return check

    checks: list[Check] = [volume("events: all", len(before), len(recent))]
    before_kinds, recent_kinds = Counter(before["kind"]), Counter(recent["kind"])
    for kind in sorted(set(before_kinds) | set(recent_kinds)):
        checks.append(volume(f"events: {kind}", before_kinds[kind], recent_kinds[kind]))
    checks.append(shares_check("event mix", before_kinds, recent_kinds))

    catalog = {row["id"]: row for row in store.catalog()}
    windows = {
        "reference": (current_start, set(before["profile_id"])),
        "current": (at, set(recent["profile_id"])),
    }
    features: dict[str, pd.DataFrame] = {}
    for name, (end, active) in windows.items():
        history = events[events["profile_id"].isin(active) & (events["timestamp"] < pd.Timestamp(end))]
        features[name] = compute_features_frame(history, end, catalog=catalog)
    for feature in RECENT_NUMERIC_FEATURES:
        checks.append(
            ks_check(
                f"feature: {feature}",
                features["reference"][feature].dropna().tolist(),
                features["current"][feature].dropna().tolist(),
            )
        )
    for feature in LABEL_FEATURES:
        checks.append(
            shares_check(
                f"feature: {feature}",
                Counter(str(v) for v in features["reference"][feature].dropna()),
                Counter(str(v) for v in features["current"][feature].dropna()),
            )
        )
    if segments_of is not None:
        checks += _segment_checks(segments_of, windows)
    checks += _send_checks(store, reference_start, current_start, at)
    return checks


#: a send's recommendations are judged on what happened this soon after it
RECS_WINDOW = timedelta(days=3)


def _send_checks(store: Any, reference_start: datetime, current_start: datetime, at: datetime) -> list[Check]:
    from tailor.monitor.config import OutcomeSettings
    from tailor.monitor.outcomes import credit, outcome_events
    from tailor.monitor.sends import sends_frame

    sends = {
        "reference": sends_frame(store, reference_start, current_start),
        "current": sends_frame(store, current_start, at),
    }
    if all(frame.empty for frame in sends.values()):
        return []
    checks: list[Check] = []
    treated = {name: frame[~frame["control"]] for name, frame in sends.items()}
    for column, what in (("blocks", "blocks"), ("rules", "rules")):
        slots = sorted({slot for frame in treated.values() for chosen in frame[column] for slot in chosen})
        for slot in slots:
            counts = {
                name: Counter(str(chosen.get(slot) or "(default)") for chosen in frame[column] if slot in chosen)
                for name, frame in treated.items()
            }
            checks.append(shares_check(f"{what}: {slot}", counts["reference"], counts["current"]))
    reasons = sorted({r for frame in sends.values() for found in frame["fallbacks"] for r in found})
    for reason in reasons:
        taken = {
            name: (sum(reason in found for found in frame["fallbacks"]), len(frame)) for name, frame in sends.items()
        }
        checks.append(rate_check(f"fallback: {reason}", taken["reference"], taken["current"], cause="pipeline"))
    # recommendations: sends that had 3 days to react, so both windows are judged alike; per
    # provider, not per trained version (a retrain must not make the history incomparable)
    settings = OutcomeSettings(within=RECS_WINDOW)
    urls = {str(row["id"]): str(row.get("url") or "") for row in store.catalog()}
    ends = {"reference": current_start, "current": at}
    engaged: dict[str, Counter[str]] = {}
    for name, frame in treated.items():
        settled = frame[(frame["sent_at"] + RECS_WINDOW <= pd.Timestamp(ends[name])) & frame["recs"].map(bool)]
        settled = settled.reset_index(drop=True)
        events = outcome_events(store, settled, reference_start, ends[name], settings)
        credited = credit(settled, events, settings, urls)
        labels = credited["recs"].map(lambda r: str(r.get("provider")))
        hit = credited["recs_clicked"] | credited["recs_bought"]
        engaged[name] = Counter(f"{label}|{'hit' if h else 'miss'}" for label, h in zip(labels, hit, strict=True))
    providers = sorted({key.split("|")[0] for counts in engaged.values() for key in counts})
    for provider in providers:
        rates = {
            name: (counts[f"{provider}|hit"], counts[f"{provider}|hit"] + counts[f"{provider}|miss"])
            for name, counts in engaged.items()
        }
        checks.append(rate_check(f"recs engagement: {provider}", rates["reference"], rates["current"], cause="model"))
    return checks


def _segment_checks(
    segments_of: Callable[[str, datetime], list[str]], windows: dict[str, tuple[datetime, set[str]]]
) -> list[Check]:
    members: dict[str, Counter[str]] = {}
    sizes: dict[str, int] = {}
    for name, (end, active) in windows.items():
        sample = sorted(active)
        if len(sample) > SEGMENT_SAMPLE:
            sample = random.Random(17).sample(sample, SEGMENT_SAMPLE)  # the same sample for the same data
        members[name] = Counter(segment for pid in sample for segment in segments_of(pid, end))
        sizes[name] = len(sample)
    return [
        rate_check(
            f"segment: {segment}",
            (members["reference"][segment], sizes["reference"]),
            (members["current"][segment], sizes["current"]),
        )
        for segment in sorted(set(members["reference"]) | set(members["current"]))
    ]


def _daily(count: int, days: int) -> float:
    return count / days
