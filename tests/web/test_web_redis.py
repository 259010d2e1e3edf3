"""Horizontal deployment: two `tailor serve` processes sharing Redis answer a send the same.

With ``TAILOR_REDIS_URL`` set the send-id answer cache lives in Redis (127.0.0.1:6379), so a
repeated ``send_id`` that a load balancer sends to another host gets the first host's answer
instead of a second render; an erasure on one host drops the answers of every host.
"""

from __future__ import annotations

import shutil
import uuid

import pytest
import requests
from webtools import ROOT, ServeProcess

from tailor.web.sends import RedisSendCache

AT = "2026-11-23T12:00:00Z"
TOKEN = "tok-redis"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

pytestmark = pytest.mark.slow  # two tailor serve processes over the example shop


@pytest.fixture(scope="module")
def two_hosts(tmp_path_factory, shop_db, redis_url):
    work = tmp_path_factory.mktemp("hosts")
    database = work / "tailor.db"
    shutil.copyfile(shop_db.replace("sqlite:///", ""), database)  # the hosts share one store, as in production
    env = {
        "TAILOR_TEMPLATES": str(ROOT / "templates"),
        "TAILOR_RULES": str(ROOT / "rules"),
        "TAILOR_DATABASE_URL": f"sqlite:///{database}",
        "TAILOR_API_TOKENS": TOKEN,
        "TAILOR_ARTIFACTS": str(work / "artifacts"),
        "TAILOR_REDIS_URL": redis_url,
    }
    hosts = [ServeProcess(env=env, cwd=work), ServeProcess(env=env, cwd=work)]
    try:
        for host in hosts:
            host.wait_ready(timeout=120)
        yield hosts
    finally:
        for host in hosts:
            host.stop()


def _renders_counted(url: str) -> float:
    metrics = requests.get(f"{url}/metrics", headers=AUTH, timeout=30).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("tailor_render_seconds_count") and "newsletter" in line
    )


def test_a_repeated_send_id_gets_the_same_answer_from_another_host(two_hosts):
    first, second = two_hosts
    body = {"template": "newsletter", "recipient": {"id": "u-00001"}, "at": AT, "send_id": f"s-{uuid.uuid4()}"}
    before = _renders_counted(second.url)
    a = requests.post(f"{first.url}/v1/render", json=body, headers=AUTH, timeout=60)
    b = requests.post(f"{second.url}/v1/render", json=body, headers=AUTH, timeout=60)
    assert a.status_code == b.status_code == 200, (a.text, b.text)
    assert a.content == b.content, "the second host answered with the first host's render, byte for byte"
    assert _renders_counted(second.url) == before, "the second host did not render the send again"
    other = requests.post(
        f"{second.url}/v1/render", json={**body, "send_id": f"s-{uuid.uuid4()}"}, headers=AUTH, timeout=60
    )
    assert other.status_code == 200 and _renders_counted(second.url) == before + 1, "a new send is rendered"


def test_an_erasure_on_one_host_drops_the_answers_of_every_host(two_hosts):
    first, second = two_hosts
    body = {"template": "newsletter", "recipient": {"id": "u-00003"}, "at": AT, "send_id": f"s-{uuid.uuid4()}"}
    answered = requests.post(f"{second.url}/v1/render", json=body, headers=AUTH, timeout=60)
    assert answered.status_code == 200
    name = answered.json()["subject"].split(",")[0]
    assert requests.delete(f"{first.url}/v1/profiles/u-00003", headers=AUTH, timeout=60).status_code == 200
    again = requests.post(f"{second.url}/v1/render", json=body, headers=AUTH, timeout=60)
    assert name not in again.text, "the answer cached for the erased person is gone from every host"


def test_an_unreachable_redis_is_a_miss_not_an_error():
    cache = RedisSendCache("redis://127.0.0.1:1/0")  # nothing listens on port 1
    cache.put(("render", "s-1"), {"html": "x"})
    assert cache.get(("render", "s-1")) is None


def test_an_answer_keeps_every_json_value_through_redis(redis_url):
    """The shared answer reads back as the HTTP answer would: big integers exactly, times as text."""
    from datetime import datetime

    cache = RedisSendCache(redis_url)
    key = ("render", f"s-{uuid.uuid4()}")
    cache.put(key, {"trace": {"order_number": 2**70, "at": datetime(2026, 11, 23, 12, 0)}, "html": "<p>é</p>"})
    assert cache.get(key) == {"trace": {"order_number": 2**70, "at": "2026-11-23 12:00:00"}, "html": "<p>é</p>"}
