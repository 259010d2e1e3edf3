"""``SuppressionCache``: suppressions answered from memory, current after any write by any process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import text
from store_helpers import identify

from tailor.store import Store
from tailor.store import suppressions as suppressions_module
from tailor.store.suppressions import SuppressionCache

PEOPLE = [("u-1", "ann@example.com"), ("u-2", "bob@example.com"), ("u-3", None), (None, "gone@example.com")]

#: the other worker: answers from its own cache each time it reads a line
WORKER = textwrap.dedent("""
    import sys
    from tailor.store import Store, suppressions
    from tailor.store.suppressions import SuppressionCache

    suppressions.RELOAD_EVERY_S = 0.0  # answer a change from the reloaded set, not the query
    cache = SuppressionCache(Store(sys.argv[1]))
    for line in sys.stdin:
        print(cache.reason(None, email=line.strip()), cache.loads, flush=True)
""")


@pytest.fixture(autouse=True)
def reload_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """No reload throttle, so every change is answered from the reloaded set (and counted)."""
    monkeypatch.setattr(suppressions_module, "RELOAD_EVERY_S", 0.0)


def shop(store: Store) -> None:
    store.ingest(
        [
            identify("i1", user="u-1", ts="2026-11-01T10:00:00Z", email="Ann@Example.com"),
            identify("i2", user="u-2", ts="2026-11-01T10:00:00Z", email="bob@example.com"),
            identify("i3", user="u-3", ts="2026-11-01T10:00:00Z"),
        ]
    )


def answers(cache: SuppressionCache) -> list[str | None]:
    return [cache.reason(p, email=e) for p, e in PEOPLE]


def expected(store: Store) -> list[str | None]:
    return [store.is_suppressed(p, email=e) for p, e in PEOPLE]


def test_every_write_to_the_suppressions_is_seen(store: Store) -> None:
    shop(store)
    cache = SuppressionCache(store)
    assert answers(cache) == [None, None, None, None]
    store.add_suppression(profile_id="u-1", reason="unsubscribe")
    store.add_suppression(email="bob@example.com", reason="bounce")
    store.add_suppression(email="gone@example.com", reason="complaint")
    assert answers(cache) == expected(store) == ["unsubscribe", "bounce", None, "complaint"]
    with store.engine.begin() as conn:  # a hand-typed change counts as well (the database bumps the counter)
        conn.execute(text("DELETE FROM suppressions WHERE reason = 'complaint'"))
    assert answers(cache) == expected(store) == ["unsubscribe", "bounce", None, None]
    store.erase_profile("u-2")  # the suppression stays, by the address's hash
    assert answers(cache) == expected(store)
    loads = cache.loads
    assert answers(cache) == expected(store)
    assert cache.loads == loads  # nothing changed: answered from memory


def test_a_change_within_the_reload_throttle_is_answered_by_the_query(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop(store)
    cache = SuppressionCache(store)
    assert answers(cache) == [None] * 4
    monkeypatch.setattr(suppressions_module, "RELOAD_EVERY_S", 3600.0)
    store.add_suppression(profile_id="u-1", reason="unsubscribe")
    assert cache.reason("u-1", email="ann@example.com") == "unsubscribe"
    assert cache.loads == 1


def test_without_the_counter_every_answer_is_the_query(store: Store) -> None:
    shop(store)
    cache = SuppressionCache(store)
    assert answers(cache) == [None] * 4
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM store_meta WHERE key = 'suppressions_version'"))
    store.add_suppression(profile_id="u-1", reason="unsubscribe")
    assert cache.reason("u-1", email="ann@example.com") == "unsubscribe"
    assert cache.loads == 1


def test_an_unsubscribe_in_one_process_is_honoured_by_the_others_next_send(store: Store, tmp_path: Path) -> None:
    shop(store)
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    other = subprocess.Popen(
        [sys.executable, str(script), store.database_url], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert other.stdin is not None and other.stdout is not None

    def ask(email: str) -> str:
        other.stdin.write(email + "\n")
        other.stdin.flush()
        return other.stdout.readline().strip()

    try:
        assert ask("bob@example.com") == "None 1"  # loaded once
        assert ask("bob@example.com") == "None 1"  # and answered from memory
        store.add_suppression(email="bob@example.com", reason="unsubscribe")  # "this" worker records it
        assert ask("bob@example.com") == "unsubscribe 2"
    finally:
        other.stdin.close()
        other.wait(timeout=30)


def test_a_counter_handed_over_is_trusted_without_a_query_of_its_own(store: Store) -> None:
    """A send reads the counter with the recipient's profile and hands it over; a new counter
    value still reloads the set, so a suppression recorded elsewhere takes effect at once."""
    from sqlalchemy import event

    shop(store)
    cache = SuppressionCache(store)
    version = store.load_send_profile(id="u-1")[1]
    assert cache.reason("u-1", email="ann@example.com", version=version) is None
    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    assert cache.reason("u-1", email="ann@example.com", version=version) is None
    assert statements == [], "answered from memory with the counter handed over"
    other = Store(store.database_url)  # another writer
    other.add_suppression(profile_id="u-1", reason="unsubscribe")
    other.close()
    version = store.load_send_profile(id="u-1")[1]
    assert cache.reason("u-1", email="ann@example.com", version=version) == "unsubscribe"
    assert cache.loads == 2
