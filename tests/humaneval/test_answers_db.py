"""The answers receiver: posts checked by humaneval's reader, one SQLite row per submission, a bad post stores nothing,
the export is what `humaneval score` reads; and in headless Chromium a filled rating form posts into the store."""

import json
import sqlite3
from pathlib import Path

import pytest

from humaneval import ScoreConfig, build_key, load_ratings, score, write_forms
from humaneval.answers_db import AnswersStore, export_answers
from humaneval.form import ANSWER_FORMAT, rater_items
from humaneval.inputs import SystemOutput
from humaneval.ratings import MalformedRating
from interp.errors import DatasetError, StoreError
from steering.tone_page import make_app
from tests.helpers import run_cli
from tests.steering.tone_fixtures import RecordingAgent, tiny_tone_agent
from tests.webdriver import chrome, live_server, needs_webdriver

SYSTEMS = ("none", "prompting", "steering", "module")


def _key(raters=("ann", "bob"), *, tone="grateful", seed=1):
    recs = [SystemOutput(f"Prompt {p}", s, f"Continuation {p} from {s}.", {"auto": float(i)}) for p in range(3) for i, s in enumerate(SYSTEMS)]
    return build_key(recs, tone=tone, raters=list(raters), seed=seed)


def answer_file(key, rater: str, *, first: bool = True, drop: int = 0) -> dict:
    """The JSON the form saves when ``rater`` picks the first (or last) text shown everywhere, naturalness 4 (or 2)."""
    answers = []
    for item, shown in rater_items(key, rater):
        pick, other = (shown[0], shown[-1]) if first else (shown[-1], shown[0])
        a = {"item": item.id, "kind": item.kind, "shown": list(shown)}
        a |= {"pairwise": {"choice": pick}, "naturalness": {"rating": 4 if first else 2}, "bestworst": {"best": pick, "worst": other}}[item.kind]
        answers.append(a)
    answers = answers[: len(answers) - drop]
    return {"format": ANSWER_FORMAT, "version": 1, "item_set": key.item_set.id, "rater": rater, "saved_utc": "2024-01-01T00:00:00Z",
            "n_items": len(key.item_set.items), "complete": drop == 0, "comment": "", "answers": answers}


def test_answers_db_stores_one_row_per_submission_and_exports_the_latest(tmp_path):
    key = _key()
    store = AnswersStore(tmp_path / "a.sqlite", key)
    s1 = store.add(json.dumps(answer_file(key, "ann", drop=2)))
    s2 = store.add(json.dumps(answer_file(key, "bob")).encode("utf-8"))
    s3 = store.add(json.dumps(answer_file(key, "ann", first=False)))
    assert [(s.rater, s.n_answers, s.complete) for s in store.submissions()] == [
        ("ann", len(key.item_set.items) - 2, False), ("bob", len(key.item_set.items), True), ("ann", len(key.item_set.items), True)]
    assert [s.id for s in store.submissions()] == [s1.id, s2.id, s3.id] and s1.id < s2.id < s3.id
    paths = store.export(tmp_path / "ratings")
    assert sorted(p.name for p in paths) == sorted(f"answers-{r}-{key.item_set.id}.json" for r in ("ann", "bob"))
    ratings = load_ratings(key, [tmp_path / "ratings"])
    by_rater = {f.rater: f for f in ratings.files}
    assert list(by_rater["ann"].answers) == answer_file(key, "ann", first=False)["answers"], "ann's latest submission is exported"
    assert ratings.skipped == ()
    report = score(key, ratings, ScoreConfig(n_boot=20, exclude_failed=False))
    assert sorted(r.rater for r in report.raters) == ["ann", "bob"]


@pytest.mark.parametrize(("body", "message"), [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe\x00", "is not UTF-8 text"),
    (json.dumps({"format": "something-else"}), "not an answer file"),
    (json.dumps([1, 2]), "not an answer file"),
    ("rater:mallory", "not valid JSON"),
])
def test_answers_db_rejects_malformed_posts_and_keeps_every_stored_answer(tmp_path, body, message):
    key = _key()
    store = AnswersStore(tmp_path / "a.sqlite", key)
    good = json.dumps(answer_file(key, "bob"))
    store.add(good)
    with pytest.raises(MalformedRating, match=message):
        store.add(body)
    assert [s.rater for s in store.submissions()] == ["bob"]
    assert store.latest() == {"bob": good}


def _broken(key, change) -> str:
    data = answer_file(key, "ann")
    change(data)
    return json.dumps(data)


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.update(rater="mallory"), "rater 'mallory' is not one of the key's raters"),
    (lambda d: d.pop("rater"), "field 'rater' is missing"),
    (lambda d: d.update(answers="all of them"), "field 'answers' is missing or not a list"),
    (lambda d: d["answers"][0].update(item=["q1"]), r"answer 1: item \['q1'\] is not in the item set"),
    (lambda d: d["answers"].append(d["answers"][0]), "is answered twice"),
    (lambda d: next(a for a in d["answers"] if a["kind"] == "naturalness").update(rating=9), "rating 9 is not an integer 1–5"),
])
def test_answers_db_checks_answers_with_the_rating_reader(tmp_path, change, message):
    key = _key()
    store = AnswersStore(tmp_path / "a.sqlite", key)
    with pytest.raises(MalformedRating, match=message):
        store.add(_broken(key, change))
    assert store.submissions() == []


def test_answers_db_refuses_another_item_set(tmp_path):
    key, other = _key(), _key(tone="angry")
    store = AnswersStore(tmp_path / "a.sqlite", key)
    with pytest.raises(DatasetError, match=f"is for item set '{other.item_set.id}', not '{key.item_set.id}'"):
        store.add(json.dumps(answer_file(other, "ann")))
    with pytest.raises(StoreError, match=f"holds answers for item set '{key.item_set.id}', not '{other.item_set.id}'"):
        AnswersStore(tmp_path / "a.sqlite", other)


def test_answers_db_bad_files(tmp_path):
    key = _key()
    junk = tmp_path / "junk.sqlite"
    junk.write_text("this is no database " * 100)
    with pytest.raises(StoreError, match="cannot be used .*file is not a database"):
        AnswersStore(junk, key)
    with pytest.raises(StoreError, match="is a folder"):
        AnswersStore(tmp_path, key)
    with pytest.raises(StoreError, match="holds no answers yet"):
        AnswersStore(tmp_path / "empty.sqlite", key).export(tmp_path / "out")
    with pytest.raises(StoreError, match="does not exist"):
        export_answers(tmp_path / "missing.sqlite", key, tmp_path / "out")


def test_answers_db_is_plain_sqlite_with_the_posted_text(tmp_path):
    key = _key()
    body = json.dumps(answer_file(key, "ann"), indent=1)
    AnswersStore(tmp_path / "a.sqlite", key).add(body)
    with sqlite3.connect(tmp_path / "a.sqlite") as db:
        rows = db.execute("SELECT rater, item_set, complete, body FROM submissions").fetchall()
    assert rows == [("ann", key.item_set.id, 1, body)]
    assert export_answers(tmp_path / "a.sqlite", key, tmp_path / "out")[0].read_text() == body


@needs_webdriver
def test_answers_db_form_filled_in_chromium_posts_into_the_store(tmp_path, tiny_model):
    from selenium.webdriver.support.ui import WebDriverWait

    key = _key(raters=("ann", "bob"))
    store = AnswersStore(tmp_path / "answers.sqlite", key)
    store.add(json.dumps(answer_file(key, "bob")))
    app = make_app(RecordingAgent(tiny_tone_agent(tiny_model)), answers_db=store)
    downloads = tmp_path / "dl"
    downloads.mkdir()
    with live_server(app) as url:
        form = write_forms(key, tmp_path / "forms", post_url=f"{url}/answers")["ann"]
        with chrome(downloads=downloads) as driver:
            driver.get(form.resolve().as_uri())
            WebDriverWait(driver, 30).until(lambda d: d.find_element("tag name", "body").get_attribute("data-ready") == "1")
            for item, shown in rater_items(key, "ann"):  # click as a rater would: first text, 4, first best / last worst
                names = {"pairwise": [(item.id, shown[0])], "naturalness": [(item.id, "4")],
                         "bestworst": [(f"{item.id}:best", shown[0]), (f"{item.id}:worst", shown[-1])]}[item.kind]
                for name, value in names:
                    radio = driver.find_element("css selector", f"input[name='{name}'][value='{value}']")
                    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", radio)
                    radio.click()
            driver.find_element("id", "he-comment").send_keys("posted by the browser test")
            driver.find_element("id", "he-save").click()
            WebDriverWait(driver, 30).until(lambda d: d.find_element("tag name", "body").get_attribute("data-posted"))
            posted = driver.find_element("tag name", "body").get_attribute("data-posted")
            status = driver.find_element("id", "he-status").text
    assert posted == "ok", status
    assert "Sent to the study server too" in status
    subs = store.submissions()
    assert [(s.rater, s.complete) for s in subs] == [("bob", True), ("ann", True)]
    stored = json.loads(store.latest()["ann"])
    assert stored["comment"] == "posted by the browser test"
    assert stored["answers"] == answer_file(key, "ann")["answers"]
    ratings = load_ratings(key, store.export(tmp_path / "ratings"))
    assert sorted(f.rater for f in ratings.files) == ["ann", "bob"]


def test_answers_db_export_answers_cli_writes_files_that_score(tmp_path, capsys):
    key = _key()
    key_path = key.save(tmp_path / "key.json")
    store = AnswersStore(tmp_path / "a.sqlite", key)
    for rater in ("ann", "bob"):
        store.add(json.dumps(answer_file(key, rater)))
    code, out, err = run_cli(["humaneval", "export-answers", str(tmp_path / "a.sqlite"), str(key_path), "--out", str(tmp_path / "ans"),
                              "--json"], capsys)
    assert code == 0, err
    assert sorted(Path(p).name for p in json.loads(out)["files"]) == [f"answers-{r}-{key.item_set.id}.json" for r in ("ann", "bob")]
    code, out, err = run_cli(["humaneval", "score", str(key_path), str(tmp_path / "ans"), "--n-boot", "20", "--keep-failed",
                              "--out", str(tmp_path / "report"), "--json"], capsys)
    assert code == 0, err
    assert sorted(r["rater"] for r in json.loads(out)["raters"]) == ["ann", "bob"]
    code, out, err = run_cli(["humaneval", "export-answers", str(tmp_path / "none.sqlite"), str(key_path), "--out", str(tmp_path / "x")], capsys)
    assert code == 2 and err.strip() == f"error: answers database '{tmp_path / 'none.sqlite'}' does not exist; give the --answers-db file " \
        "the tone page stored into"
