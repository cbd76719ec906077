"""Proposals waiting for a decision are announced to the campaign's `approval.notify` URL (a real HTTP receiver here);
a receiver that is down or refuses does not stop the campaign."""

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from retort.orchestrator import loop
from retort.orchestrator.errors import CampaignError
from retort.orchestrator.store import Store
from tests.conftest import branin_campaign


@pytest.fixture
def receiver():
    got, answers = [], []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            got.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(answers.pop(0) if answers else 204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", got, answers
    server.shutdown()


def test_waiting_proposals_are_announced_and_a_failing_receiver_stops_nothing(receiver, caplog):
    url, got, answers = receiver
    campaign = branin_campaign(approval={"mode": "required", "notify": url})
    run = loop.open_run(campaign, store=Store("sqlite://"))
    loop.propose(run, 1, None, 2)
    assert got == [{"campaign": "branin-test", "waiting": [1, 2],
                    "text": "branin-test: 2 proposals (1, 2) wait for a decision (retort approve, or the UI's Approvals page)"}]
    answers.append(500)
    with caplog.at_level(logging.WARNING):
        loop.propose(run, 1, None, 1)
    assert got[-1]["waiting"] == [3] and f"{url} answered 500 to the notice that proposals [3] of branin-test wait" in caplog.text
    down = branin_campaign(name="down", approval={"mode": "required", "notify": "http://127.0.0.1:9/closed"})
    other = loop.open_run(down, store=run.store)
    with caplog.at_level(logging.WARNING):
        loop.propose(other, 1, None, 1)
    assert "could not tell http://127.0.0.1:9/closed that proposals [1] of down wait" in caplog.text
    assert [e.status for e in other.experiments()] == ["proposed"]  # stored and waiting all the same
    assert len(got) == 2


def test_notify_needs_a_web_address_and_approval_required():
    with pytest.raises((CampaignError, ValueError), match="URL"):
        branin_campaign(approval={"mode": "required", "notify": "not a url"})
    with pytest.raises((CampaignError, ValueError), match="'notify' applies to mode 'required'"):
        branin_campaign(approval={"mode": "auto", "notify": "http://127.0.0.1/x"})
