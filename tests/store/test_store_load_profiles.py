"""``Store.load_profiles`` and ``Store.suppressions``: the bulk forms a campaign partition uses, in parity with
``load_profile`` and ``is_suppressed`` for every kind of reference, on both dialects."""

from __future__ import annotations

from store_helpers import identify, track

from tailor.store import Store


def shop(store: Store) -> None:
    store.ingest(
        [
            identify("i1", user="u-1", anon="a-1", ts="2026-11-01T10:00:00Z", email="Ann@Example.com"),
            *[track(f"t1-{n}", user="u-1", ts=f"2026-11-01T11:{n:02d}:00Z") for n in range(6)],
            track("v1", user=None, anon="a-9", ts="2026-11-02T10:00:00Z"),
            identify("i2", user="u-2", ts="2026-11-01T10:00:00Z", email="bob@example.com"),
            track("t2", user="u-2", ts="2026-11-03T10:00:00Z"),
            # three events of one instant: which two are the latest is the insertion order's to say
            *[track(f"t2-{n}", user="u-2", ts="2026-11-03T10:00:00Z") for n in range(2)],
            identify("i3", user="u-3", ts="2026-11-01T10:00:00Z"),
        ]
    )


def test_load_profiles_answers_as_load_profile_does(store: Store) -> None:
    shop(store)
    ids = ["u-1", "a-1", "anon-a-9", "a-9", "u-2", "u-3", "nobody"]
    emails = ["ann@example.com", " ANN@example.COM", "bob@example.com", "nobody@example.com"]
    user_ids = ["u-2", "a-1", "nobody"]
    loaded = store.load_profiles(ids, emails=emails, user_ids=user_ids, event_limit=3)
    expected = {
        **{("id", r): store.load_profile(id=r, event_limit=3) for r in ids},
        **{("email", r): store.load_profile(email=r, event_limit=3) for r in emails},
        **{("user_id", r): store.load_profile(user_id=r, event_limit=3) for r in user_ids},
    }
    assert loaded == {k: v for k, v in expected.items() if v is not None}
    assert ("id", "nobody") not in loaded and ("user_id", "a-1") not in loaded  # an anonymous id is not a user id
    # the latest three events, oldest first, as load_profile gives them
    assert [e["messageId"] for e in loaded[("id", "u-1")]["events"]] == ["t1-3", "t1-4", "t1-5"]
    assert [e["messageId"] for e in loaded[("id", "u-2")]["events"]] == ["t2", "t2-0", "t2-1"]
    assert len(store.load_profiles(["u-1"], event_limit=None)[("id", "u-1")]["events"]) == 7
    two = store.load_profiles(["u-2"], event_limit=2)[("id", "u-2")]
    assert two == store.load_profile(id="u-2", event_limit=2) and [e["messageId"] for e in two["events"]] == [
        "t2-0",
        "t2-1",
    ]
    assert store.load_profiles(["u-1", "u-2"], event_limit=0)[("id", "u-2")]["events"] == []
    assert store.load_profiles([]) == {}


def test_suppressions_answer_as_is_suppressed_does(store: Store) -> None:
    shop(store)
    store.add_suppression(profile_id="u-1", reason="unsubscribe")
    store.add_suppression(email="bob@example.com", reason="bounce")
    store.add_suppression(profile_id="u-2", reason="spam-report")  # newer than the bounce: the bounce is reported
    store.add_suppression(email="gone@example.com", reason="complaint")
    people = [("u-1", "ann@example.com"), ("u-2", "bob@example.com"), ("u-3", None), (None, "gone@example.com")]
    index = store.suppressions([p for p, _ in people if p], emails=[e for _, e in people if e])
    for profile_id, email in people:
        assert index.reason(profile_id, email=email) == store.is_suppressed(profile_id, email=email)
    assert [index.reason(p, email=e) for p, e in people] == ["unsubscribe", "bounce", None, "complaint"]
