"""Declared faults: a service failing the way production sees it, for one persona's previews.

A persona file may carry ``"faults": ["recs-unavailable"]``; the studio, ``tailor preview``
and the coverage tools then render that persona with a recommendation service whose
external model service answers that way — through the real client
(:class:`~tailor.recommendations.external.ExternalRecsClient`) over a transport that gives
the declared answer instead of calling the network — and with no catalog behind it, so no
built-in provider stands in. That is how the service-caused fallbacks (``recs-*``) get a
persona that shows them, whatever store the previewing machine has.
"""

from __future__ import annotations

import io
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import BaseAdapter
from urllib3.response import HTTPResponse

from tailor.recommendations.external import ExternalRecsClient

if TYPE_CHECKING:
    from tailor.core import Tailor

#: the URL the faulty client "calls" (the transport answers; nothing leaves the machine)
FAULT_URL = "http://declared-fault.invalid/recommendations"


@dataclass(frozen=True)
class Fault:
    name: str
    #: what the service does
    meaning: str
    #: the fallback reasons a render that shows recommendations takes under it
    reasons: tuple[str, ...]


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        Fault("recs-unavailable", "the recommendation service answers HTTP 503", ("recs-error", "recs-hidden")),
        Fault("recs-timeout", "the recommendation service does not answer in time", ("recs-timeout", "recs-hidden")),
        Fault("recs-empty", "the recommendation service answers with no products", ("recs-empty", "recs-hidden")),
    )
}


class FaultTransport(BaseAdapter):
    """A requests transport that answers every call as ``fault`` says."""

    def __init__(self, fault: str):
        super().__init__()
        self.fault = fault

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        if self.fault == "recs-timeout":
            raise requests.ReadTimeout(f"declared fault {self.fault}", request=request)
        status, body = (503, b"") if self.fault == "recs-unavailable" else (200, b'{"items": []}')
        response = requests.Response()
        response.status_code = status
        response.headers["Content-Length"] = str(len(body))
        response.raw = HTTPResponse(body=io.BytesIO(body), status=status, preload_content=False)
        response.request, response.url = request, str(request.url)
        return response

    def close(self) -> None:
        pass


def persona_faults(document: Mapping[str, Any]) -> list[str]:
    """The declared faults a persona file asks for (``faults``), empty when none."""
    faults = document.get("faults")
    return [str(f) for f in faults] if isinstance(faults, list) else []


def fault_problem(value: Any) -> str | None:
    """What is wrong with a persona file's ``faults`` value (None when it is a list of declared faults)."""
    if not isinstance(value, list) or not all(isinstance(f, str) for f in value):
        return f"faults must be a list of fault names ({', '.join(FAULTS)})"
    unknown = [f for f in value if f not in FAULTS]
    if unknown:
        return f"unknown fault {unknown[0]!r} (declared: {', '.join(FAULTS)})"
    if len(value) > 1:
        return "give one fault per persona (each replaces the recommendation service)"
    return None


def with_faults(tailor: Tailor, faults: Iterable[str]) -> Tailor:
    """``tailor`` itself without faults; else one sharing its workspace whose recommender fails so."""
    names = [f for f in faults if f in FAULTS]
    if not names:
        return tailor
    made = _FAULTY.setdefault(tailor, {})
    if names[0] not in made:
        made[names[0]] = _faulty(tailor, names[0])
    return made[names[0]]


#: one faulty twin per Tailor and fault (each holds a client with its worker pool)
_FAULTY: weakref.WeakKeyDictionary[Tailor, dict[str, Tailor]] = weakref.WeakKeyDictionary()


def _faulty(tailor: Tailor, fault: str) -> Tailor:
    from tailor.core import Tailor
    from tailor.recommendations import RecommendationService

    session = requests.Session()
    session.mount("http://", FaultTransport(fault))
    recommender = RecommendationService(
        [],  # no catalog: the popular steps have nothing to stand in with
        client=ExternalRecsClient(FAULT_URL, session=session, max_workers=1),
        filters=tailor.workspace.recs_filters,
        backfill=False,
    )
    return Tailor(
        tailor.templates_dir,
        tailor.rules_dir,
        tailor.database_url,
        settings=tailor.settings,
        recommender=recommender,
        workspace=tailor.workspace,
    )
