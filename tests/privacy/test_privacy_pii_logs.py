"""PII-safe operation: a realistic workload through a real server leaves no email, name or address in any log."""

from __future__ import annotations

import csv
import io
import logging
import re

import pytest
import requests
from privacy_helpers import FIXTURES, ROOT, LiveServer, app_with_profiles

from tailor.config import Settings
from tailor.store import Store

STREET = "47 Rue du Faubourg Saint-Antoine"
GUEST = {
    "email": "Odile.Vasquez-Breton@example.net",
    "first_name": "Odile",
    "last_name": "Vasquez-Breton",
    "address": {"street": STREET, "city": "Paris", "postal_code": "75011"},
}


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("urllib3"):
            return  # the test's own HTTP client, not the service
        try:
            self.lines.append(self.format(record))
        except Exception:  # a record that cannot format is still scanned raw
            self.lines.append(f"{record.msg} {record.args}")


@pytest.fixture(scope="module")
def shop_store(tmp_path_factory) -> Store:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('pii') / 'shop.db'}")
    store.migrate()
    for name in ("catalog.csv", "profiles.csv", "events.jsonl"):
        store.ingest_file(FIXTURES / name)
    yield store
    store.close()


def _needles() -> tuple[list[str], list[str]]:
    """(emails and addresses as substrings, names as whole words) of the fixtures and the workload's guest."""
    rows = list(csv.DictReader(io.StringIO((FIXTURES / "profiles.csv").read_text(encoding="utf-8"))))
    substrings = {r["email"].strip().lower() for r in rows if r.get("email")} | {GUEST["email"].lower(), STREET}
    names = {r[k].strip() for r in rows for k in ("first_name", "last_name") if r.get(k) and len(r[k].strip()) >= 3}
    names |= {GUEST["first_name"], GUEST["last_name"]}
    return sorted(substrings), sorted(names)


@pytest.mark.slow
def test_logs_of_a_full_workload_hold_no_pii(shop_store: Store, tmp_path) -> None:
    capture = Capture()
    capture.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    loggers = [
        logging.getLogger(),
        logging.getLogger("tailor"),
        logging.getLogger("werkzeug"),
        logging.getLogger("tailor.privacy"),
    ]
    old_levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(capture)
        lg.setLevel(logging.DEBUG)
    rows = list(csv.DictReader(io.StringIO((FIXTURES / "profiles.csv").read_text(encoding="utf-8"))))
    chosen = (
        [r for r in rows if r["consent_email_marketing"] == "true"][:4]
        + [r for r in rows if r["consent_email_marketing"] == "false"][:1]
        + [r for r in rows if r["consent_personalization"] == "false"][:1]
    )
    settings = Settings().with_values(
        database_url=shop_store.database_url,
        templates=str(ROOT / "templates"),
        rules=str(ROOT / "rules"),
        artifacts=str(tmp_path / "artifacts"),
    )
    statuses: dict[int, int] = {}
    try:
        with LiveServer(app_with_profiles(settings)) as server:
            s = requests.Session()

            def call(method: str, path: str, **kwargs) -> requests.Response:
                r = s.request(method, server.url + path, timeout=60, **kwargs)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                return r

            # ingestion of a new person with an address, then behaviour
            assert (
                call(
                    "post",
                    "/v1/identify",
                    json={"userId": "guest-1", "traits": {**GUEST, "consent_email_marketing": True}},
                ).status_code
                == 200
            )
            assert (
                call(
                    "post",
                    "/v1/track",
                    json={"userId": "guest-1", "event": "Product Viewed", "properties": {"product_id": "sku-0001"}},
                ).status_code
                == 200
            )
            assert (
                call(
                    "post",
                    "/v1/batch",
                    json={"batch": [{"type": "identify", "userId": "guest-2", "traits": {"email": "not-an-email"}}]},
                ).status_code
                == 400
            )
            templates = sorted(p.stem for p in (ROOT / "templates").glob("*.mjml"))
            for row in chosen:
                for template in templates:
                    call(
                        "post",
                        "/v1/render",
                        json={"template": template, "recipient": {"id": row["user_id"]}, "at": "2026-11-23T12:00:00Z"},
                    )
                    call(
                        "post",
                        "/v1/render",
                        json={
                            "template": template,
                            "recipient": {"email": row["email"]},
                            "send_id": f"s-{row['user_id']}",
                        },
                    )
                call("get", f"/v1/content/newsletter/hero?recipient={row['email']}&send_id=x")
                call("get", f"/v1/profiles/{row['user_id']}")
            for template in templates:
                call("post", "/v1/render", json={"template": template, "recipient": {"id": "guest-1"}})
            # errors, with personal data in the inputs
            call("post", "/v1/render", json={"template": "no-such-template", "recipient": {"email": GUEST["email"]}})
            call(
                "post",
                "/v1/render",
                json={
                    "template": "welcome",
                    "recipient": {"email": "nobody.known@example.org", "traits": {"first_name": GUEST["first_name"]}},
                },
            )
            call(
                "post",
                "/v1/render",
                data=f'{{"template": "welcome", "recipient": {{"email": "{GUEST["email"]}"',
                headers={"Content-Type": "application/json"},
            )
            call("post", "/v1/render", json={"template": "welcome", "recipient": {"email": 5}, "street": STREET})
            call("get", f"/v1/profiles/{GUEST['email']}/export")
            call(
                "put", "/v1/profiles/guest-1/consents", json={"consents": {"tracking": False, GUEST["last_name"]: True}}
            )
            # data-subject requests
            assert call("get", "/v1/profiles/guest-1/export").json()["email"] == GUEST["email"].lower()
            assert (
                call("put", "/v1/profiles/guest-1/consents", json={"consents": {"tracking": False}}).status_code == 200
            )
            assert call("delete", "/v1/profiles/guest-1").status_code == 200
            assert call("delete", f"/v1/profiles/{chosen[0]['user_id']}").status_code == 200
            assert call("get", f"/v1/profiles/{chosen[0]['user_id']}").status_code == 404
    finally:
        for lg, level in zip(loggers, old_levels, strict=True):
            lg.removeHandler(capture)
            lg.setLevel(level)
    assert statuses.get(200, 0) > 40 and {400, 404, 422} <= set(statuses), statuses
    text = "\n".join(capture.lines)
    assert "POST /v1/render" in text and "/v1/content/newsletter/hero" in text  # the access log was captured
    substrings, names = _needles()
    lowered = text.lower()
    leaks = [n for n in substrings if n.lower() in lowered]
    leaks += [n for n in names if re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", text)]
    assert leaks == [], "\n".join(line for line in capture.lines if any(n.lower() in line.lower() for n in leaks))[
        :3000
    ]
