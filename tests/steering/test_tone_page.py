"""The tone page: its JSON API over a real (tiny-model) tone agent, escaping, and in headless Chromium a slider moved by
the mouse and the keyboard gives a reply whose text and scores are what the server returned."""

import json
import math
import re

import pytest

from humaneval import build_key
from humaneval.answers_db import AnswersStore
from humaneval.inputs import SystemOutput
from interp.errors import ConfigError
from steering.tone_page import make_app, render_page
from tests.humaneval.test_answers_db import answer_file
from tests.interp.test_figures import PAYLOAD, assert_no_injected_script
from tests.steering.tone_fixtures import RecordingAgent, tiny_tone_agent
from tests.webdriver import browser_errors, chrome, live_server, needs_webdriver


@pytest.fixture
def agent(tiny_model):
    return RecordingAgent(tiny_tone_agent(tiny_model))


def _as_json(replies: dict) -> dict:
    return {s: json.loads(json.dumps(r.to_dict())) for s, r in replies.items()}


class PayloadAgent:
    """Replies, system prompts, interventions and score names that try to inject a script; one score is NaN."""

    labels = ["gratitude"]

    def compare(self, prompt, target):
        reply = {"text": f"{PAYLOAD}<img src=x onerror=\"document.documentElement.setAttribute('data-pwned','2')\">",
                 "system": "agent", "interventions": [{"label": PAYLOAD}], "scores": {PAYLOAD: 1.0, "nan": math.nan},
                 "attempts": 1, "latency_s": 0.0}
        return {"module": dict(reply, text="module"), "prompting": dict(reply, text=PAYLOAD), "none": dict(reply, text="plain"),
                "agent": reply}


def test_tone_page_reply_returns_the_agents_replies_in_order(agent):
    client = make_app(agent).test_client()
    resp = client.post("/api/reply", json={"prompt": "Thank you for", "levels": {"gratitude": 0.75, "anger": 0.0}})
    assert resp.status_code == 200, resp.json
    prompt, levels, replies = agent.calls[-1]
    assert (prompt, levels) == ("Thank you for", {"gratitude": 0.75, "anger": 0.0})
    assert list(resp.json["replies"]) == ["agent", "none", "prompting"]
    assert resp.json["replies"] == _as_json(replies)
    assert resp.json["levels"] == levels and resp.json["seconds"] >= 0
    assert [d["label"] for d in replies["agent"].interventions] == ["gratitude"], "anger at level 0 is not steered"
    assert replies["agent"].drafts[0]["alpha"] == {"gratitude": 3.0, "anger": 0.0}, "the loop starts at level × window top (4)"
    assert client.get("/api/labels").json == {"labels": ["gratitude", "anger"]}


@pytest.mark.parametrize(("body", "message"), [
    ({"prompt": "  ", "levels": {"gratitude": 0.5}}, "the prompt is empty"),
    ({"prompt": "x" * 5000, "levels": {"gratitude": 0.5}}, "shorten it to at most 4000"),
    ({"prompt": "hi", "levels": {"joy": 0.5}}, "unknown tone label 'joy'; this agent controls gratitude, anger"),
    ({"prompt": "hi", "levels": {"gratitude": 1.5}}, r"tone level gratitude=1.5 is not a number in \[0, 1\]"),
    ({"prompt": "hi", "levels": {"gratitude": "high"}}, "tone level gratitude='high'"),
    ({"prompt": "hi", "levels": {"gratitude": True}}, "tone level gratitude=True"),
    ({"prompt": "hi", "levels": {}}, "'levels' must name at least one label"),
    (["not", "an", "object"], "must be a JSON object"),
])
def test_tone_page_rejects_bad_requests_with_400_and_a_message(agent, body, message):
    resp = make_app(agent).test_client().post("/api/reply", json=body)
    assert resp.status_code == 400
    assert re.search(message, resp.json["error"]), resp.json
    assert agent.calls == [], "a rejected request never reaches the model"


def test_tone_page_reply_not_json_is_a_400(agent):
    resp = make_app(agent).test_client().post("/api/reply", data="prompt=hi", content_type="text/plain")
    assert resp.status_code == 400 and "JSON object" in resp.json["error"]


def test_tone_page_make_app_refuses_a_non_agent():
    with pytest.raises(ConfigError, match="is not a tone agent: it needs .labels and .compare"):
        make_app(object())


def test_tone_page_reply_json_stays_valid_with_nan_scores():
    resp = make_app(PayloadAgent()).test_client().post("/api/reply", json={"prompt": "hi", "levels": {"gratitude": 1}})
    assert resp.status_code == 200
    json.loads(resp.get_data(as_text=True))  # strict JSON: a NaN would not parse in the browser
    assert resp.json["replies"]["agent"]["scores"]["nan"] is None
    assert list(resp.json["replies"]) == ["agent", "none", "prompting", "module"], "the page's order, not the agent's or A-Z"
    assert list(resp.json["replies"]["agent"]["scores"]) == [PAYLOAD, "nan"]


def test_tone_page_html_escapes_labels_and_loads_nothing_from_elsewhere(agent):
    page = render_page([f"gratitude{PAYLOAD}", "anger"], prompt=f"hello {PAYLOAD}")
    parsed = assert_no_injected_script(page, n_scripts=2)  # the JSON config and the page's own script file
    assert json.loads(parsed.scripts[0])["labels"] == [f"gratitude{PAYLOAD}", "anger"]
    assert PAYLOAD not in page
    resp = make_app(agent).test_client().get("/")
    text = resp.get_data(as_text=True)
    assert "http://" not in text and "https://" not in text and "//" not in text.replace("://", ""), "no other host"
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
    for asset, kind in (("/tone_page.js", "text/javascript"), ("/tone_page.css", "text/css")):
        r = make_app(agent).test_client().get(asset)
        assert r.status_code == 200 and r.mimetype == kind
        assert "http://" not in r.get_data(as_text=True) and "https://" not in r.get_data(as_text=True)


def test_tone_page_answers_route_is_404_without_a_store(agent):
    resp = make_app(agent).test_client().post("/answers", data="{}", content_type="text/plain")
    assert resp.status_code == 404 and "stores no rating answers" in resp.json["error"]


def test_tone_page_answers_route_stores_and_rejects(agent, tmp_path):
    recs = [SystemOutput(f"Prompt {p}", s, f"Text {p} {s}.") for p in range(3) for s in ("none", "prompting", "steering", "module")]
    key = build_key(recs, tone="grateful", raters=["ann", "bob"], seed=1)
    store = AnswersStore(tmp_path / "answers.sqlite", key)
    client = make_app(agent, answers_db=store).test_client()
    ok = client.post("/answers", data=json.dumps(answer_file(key, "ann")), content_type="text/plain;charset=UTF-8")
    assert ok.status_code == 200 and ok.json["stored"]["rater"] == "ann" and ok.json["stored"]["complete"] is True
    assert ok.headers["Access-Control-Allow-Origin"] == "*", "the form, opened from a file, must be able to read the answer"
    bad = client.post("/answers", data=json.dumps(answer_file(key, "mallory")), content_type="text/plain")
    assert bad.status_code == 400
    assert bad.json["error"] == "answers rejected: rater 'mallory' is not one of the key's raters (ann, bob)"
    assert client.post("/answers", data=b"\xff\xfe", content_type="text/plain").status_code == 400
    listed = client.get("/answers").json
    assert listed["item_set"] == key.item_set.id and [s["rater"] for s in listed["submissions"]] == ["ann"]


def _wait(driver, condition, seconds=60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds).until(condition)


def _replies_at_least(n):
    return lambda d: int(d.find_element("tag name", "body").get_attribute("data-replies") or 0) >= n \
        and d.find_element("tag name", "body").get_attribute("data-state") == "done"


def _assert_page_shows(driver, replies: dict):
    """Every reply card's text and every score cell equal what the agent returned for the last request."""
    for system, reply in replies.items():
        card = driver.find_element("css selector", f".reply[data-system='{system}']")
        assert card.find_element("css selector", ".reply-text").get_property("textContent") == reply.text
        for column, value in reply.scores.items():
            cell = driver.find_element("css selector", f"#tp-scores td[data-system='{system}'][data-column='{column}']")
            shown = cell.get_property("textContent")
            if math.isfinite(value):
                assert float(cell.get_attribute("data-value")) == value
                assert abs(float(shown) - value) <= 0.0005 + 1e-9 and len(shown.split(".")[1]) == 3, (column, shown, value)
            else:
                assert (cell.get_attribute("data-value"), shown) == ("", "–"), "NaN is shown as missing"
    shown_cols = [tr.get_attribute("data-column") for tr in driver.find_elements("css selector", "#tp-scores tbody tr")]
    assert shown_cols == list(dict.fromkeys(c for r in replies.values() for c in r.scores))


@needs_webdriver
def test_tone_page_in_chromium_slider_gives_a_reply_with_scores(agent):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    with live_server(make_app(agent, prompt="Thanks so much for")) as url, chrome() as driver:
        driver.get(url + "/")
        _wait(driver, lambda d: d.find_element("tag name", "body").get_attribute("data-ready") == "1")
        grat = driver.find_element("css selector", "input.tp-level[data-label='gratitude']")
        # Drag the gratitude slider's thumb from the left end to about three quarters, as a user would.
        width = grat.size["width"]
        ActionChains(driver).move_to_element_with_offset(grat, -width // 2 + 2, 0).click_and_hold() \
            .move_by_offset(int(width * 0.75) - 2, 0).release().perform()
        _wait(driver, _replies_at_least(1))
        level = float(grat.get_property("value"))
        assert 0.5 < level < 1.0, level
        assert driver.find_element("id", "tp-level-0-value").get_property("textContent") == f"{level:.2f}"
        prompt, levels, replies = agent.calls[-1]
        assert prompt == "Thanks so much for" and levels == {"gratitude": level, "anger": 0.0}
        _assert_page_shows(driver, replies)
        assert f"gratitude={level:.2f}" in driver.find_element("id", "tp-status").text

        # The keyboard moves the anger slider; a new prompt typed, then the Reply button.
        anger = driver.find_element("css selector", "input.tp-level[data-label='anger']")
        anger.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
        _wait(driver, _replies_at_least(2))
        box = driver.find_element("id", "tp-prompt")
        box.clear()
        box.send_keys("I am so angry that")
        n = len(agent.calls)
        driver.find_element("id", "tp-reply").click()
        _wait(driver, lambda d: len(agent.calls) > n and _replies_at_least(3)(d))
        prompt, levels, replies = agent.calls[-1]
        assert prompt == "I am so angry that" and levels == {"gratitude": level, "anger": 0.1}
        _wait(driver, lambda d: d.find_element("css selector", ".reply[data-system='agent'] .reply-text")
              .get_property("textContent") == replies["agent"].text)
        _assert_page_shows(driver, replies)
        assert [d["label"] for d in replies["agent"].interventions] == ["gratitude", "anger"]
        assert browser_errors(driver) == [], "the page logged errors (a refused resource or a script error)"


@needs_webdriver
def test_tone_page_in_chromium_shows_model_text_as_text():
    with live_server(make_app(PayloadAgent())) as url, chrome() as driver:
        driver.get(url + "/")
        _wait(driver, lambda d: d.find_element("tag name", "body").get_attribute("data-ready") == "1")
        driver.find_element("id", "tp-reply").click()
        _wait(driver, _replies_at_least(1))
        text = driver.find_element("css selector", ".reply[data-system='agent'] .reply-text").get_property("textContent")
        assert text.startswith(PAYLOAD) and "<img src=x" in text
        assert driver.find_elements("css selector", "#tp-replies img, #tp-replies script, #tp-scores script") == []
        assert driver.execute_script("return document.documentElement.getAttribute('data-pwned')") is None
        assert driver.find_element("css selector", "#tp-scores tbody tr[data-column='nan'] td").get_property("textContent") == "–"


def test_tone_page_agent_failure_is_a_json_500():
    class Broken:
        labels = ["gratitude"]

        def compare(self, prompt, target):
            raise RuntimeError("CUDA out of memory")

    resp = make_app(Broken()).test_client().post("/api/reply", json={"prompt": "hi", "levels": {"gratitude": 0.5}})
    assert resp.status_code == 500
    assert resp.json["error"] == "the server failed (RuntimeError: CUDA out of memory); see its console for the traceback"


@pytest.mark.real
@needs_webdriver
def test_tone_page_in_chromium_shows_real_model_text_exactly(real_model):
    """smollm2-135m's replies (chat template, newlines, punctuation) come through JSON and textContent unchanged."""
    from selenium.webdriver.common.keys import Keys

    agent = RecordingAgent(tiny_tone_agent(real_model, labels=("gratitude",), max_new_tokens=16), budget=1)
    agent.agent.chat = True
    with live_server(make_app(agent, prompt="Write a short thank-you note to my neighbour.")) as url, chrome() as driver:
        driver.get(url + "/")
        _wait(driver, lambda d: d.find_element("tag name", "body").get_attribute("data-ready") == "1")
        driver.find_element("css selector", "input.tp-level[data-label='gratitude']").send_keys(Keys.END)
        _wait(driver, _replies_at_least(1), seconds=180)
        prompt, levels, replies = agent.calls[-1]
        assert levels == {"gratitude": 1.0}
        assert all(r.text.strip() for r in replies.values()), "the real model wrote something for every system"
        _assert_page_shows(driver, replies)
        assert browser_errors(driver) == []
