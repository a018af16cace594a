"""The local tone page (Flask): a slider per label, the controlled reply beside the no-control and prompting replies, scores.

Routes: ``GET /`` the page; ``GET /tone_page.js`` and ``/tone_page.css`` its assets (nothing from any other host);
``GET /api/labels``; ``POST /api/reply`` with ``{"prompt", "levels": {label: level}}`` → ``{"replies": {system:
reply}, "levels", "seconds"}`` (400 with ``{"error"}`` for a user error); and, with an answers store, ``POST /answers``
where the offline rating forms post their answer files (:mod:`humaneval.answers_db`; 400 with a message when malformed)
and ``GET /answers`` listing the stored submissions. Generation runs one request at a time (a lock): the model is shared.
"""

import html
import ipaddress
import threading
import time
import warnings

from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server

from humaneval.answers_db import MAX_POST_BYTES, AnswersStore
from interp.errors import ConfigError, EmotionCircuitsError, EmotionCircuitsWarning
from interp.figures import script_json
from steering.tone_page_assets import CSS, JS
from steering.tone_request import REPLY_ORDER, TITLES, agent_labels, parse_request, run_request

DEFAULT_PROMPT = "My package arrived two weeks late and the box was damaged. Can you help?"
SLIDER_STEP = 0.05
_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def make_app(agent, *, answers_db: AnswersStore | None = None, prompt: str = DEFAULT_PROMPT) -> Flask:
    """The page's Flask app over ``agent`` (anything with ``labels`` and ``compare(prompt, target)``).

    Args:
        agent: the tone agent (see :mod:`steering.tone_request`).
        answers_db: where ``POST /answers`` stores rating-form answers; None answers 404 there.
        prompt: the prompt the page starts with.
    """
    labels = agent_labels(agent)
    if answers_db is not None and not isinstance(answers_db, AnswersStore):
        raise ConfigError(f"answers_db must be a humaneval.answers_db.AnswersStore (a SQLite file and its key), got {type(answers_db).__name__}")
    app = Flask(__name__)
    app.json.sort_keys = False  # systems and score columns keep the agent's order
    app.config["MAX_CONTENT_LENGTH"] = MAX_POST_BYTES
    lock = threading.Lock()
    page = render_page(labels, prompt=prompt)

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers["Content-Security-Policy"] = _CSP
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.get("/")
    def _page() -> Response:
        return Response(page, mimetype="text/html")

    @app.get("/tone_page.js")
    def _js() -> Response:
        return Response(JS, mimetype="text/javascript")

    @app.get("/tone_page.css")
    def _css() -> Response:
        return Response(CSS, mimetype="text/css")

    @app.get("/favicon.ico")
    def _icon() -> Response:
        return Response(status=204)

    @app.get("/api/labels")
    def _labels() -> Response:
        return jsonify(labels=labels)

    @app.post("/api/reply")
    def _reply() -> tuple[Response, int] | Response:
        data = request.get_json(silent=True)
        try:
            req = parse_request(data, labels)
            with lock:
                start = time.perf_counter()
                replies = run_request(agent, req)
                seconds = time.perf_counter() - start
        except EmotionCircuitsError as exc:
            return jsonify(error=str(exc)), 400
        return jsonify(replies=replies, levels=req.levels, seconds=seconds)

    @app.route("/answers", methods=["POST", "OPTIONS", "GET"])
    def _answers() -> tuple[Response, int] | Response:
        if answers_db is None:
            return _cors(jsonify(error="this page stores no rating answers; start it with an answers database and the study's key.json")), 404
        if request.method == "OPTIONS":
            return _cors(Response(status=204))
        if request.method == "GET":
            return jsonify(item_set=answers_db.key.item_set.id, submissions=[s.to_dict() for s in answers_db.submissions()])
        try:
            sub = answers_db.add(request.get_data(cache=False), source=f"answers posted from {request.remote_addr}")
        except EmotionCircuitsError as exc:
            return _cors(jsonify(error=f"answers rejected: {exc}")), 400
        return _cors(jsonify(stored=sub.to_dict()))

    @app.errorhandler(500)
    def _internal(exc) -> tuple[Response, int]:
        cause = getattr(exc, "original_exception", None) or exc
        app.logger.error("tone page request failed", exc_info=cause)
        return jsonify(error=f"the server failed ({type(cause).__name__}: {cause}); see its console for the traceback"), 500

    @app.errorhandler(413)
    def _too_large(_exc) -> tuple[Response, int]:
        return _cors(jsonify(error=f"request larger than {MAX_POST_BYTES} bytes; post one answer file at a time")), 413

    return app


def _cors(resp: Response) -> Response:
    """The rating form is opened from a file (origin ``null``): let its fetch read the answer to its post."""
    resp.headers["Access-Control-Allow-Origin"] = "*"
    resp.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    resp.headers["Access-Control-Allow-Headers"] = "Content-Type"
    return resp


def render_page(labels: list[str], *, prompt: str = DEFAULT_PROMPT) -> str:
    """The page's HTML: a slider per label, empty reply cards and scores table (the script fills them), config as JSON."""
    sliders = "".join(
        f"<div class='slider'><label for='tp-level-{i}'>{html.escape(lab)}</label>"
        f"<input type='range' class='tp-level' id='tp-level-{i}' data-label='{html.escape(lab, quote=True)}' "
        f"min='0' max='1' step='{SLIDER_STEP}' value='0'><output id='tp-level-{i}-value' for='tp-level-{i}'>0.00</output></div>"
        for i, lab in enumerate(labels))
    cards = "".join(
        f"<article class='reply' data-system='{s}'><h2>{html.escape(TITLES[s])}</h2><p class='reply-text'></p><p class='reply-meta meta'></p>"
        f"<details><summary>interventions</summary><pre class='reply-interventions'></pre></details></article>" for s in REPLY_ORDER[:3])
    cfg = {"labels": labels, "titles": TITLES, "reply_url": "/api/reply"}
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' content='width=device-width, initial-scale=1'>"
            "<title>Tone control</title><link rel='stylesheet' href='/tone_page.css'></head><body data-state='loading'>"
            "<h1>Tone control</h1><p class='meta'>0 = what the model does without control, 1 = the top of the calibrated window. "
            "Release a slider or press Reply.</p>"
            f"<section id='tp-controls'><label for='tp-prompt'>Prompt</label><textarea id='tp-prompt'>{html.escape(prompt)}</textarea>"
            f"<div id='tp-sliders'>{sliders}</div><div class='actions'><button type='button' id='tp-reply'>Reply</button>"
            "<span id='tp-status' role='status'></span></div></section>"
            f"<section id='tp-replies'>{cards}</section>"
            "<h2>Scores</h2><table id='tp-scores' class='scores'><thead><tr><th>score</th></tr></thead><tbody></tbody></table>"
            f"<script id='tp-config' type='application/json'>{script_json(cfg)}</script><script src='/tone_page.js'></script>"
            "</body></html>")


def serve(agent, host: str = "127.0.0.1", port: int = 8765, answers_db: AnswersStore | None = None, *,
          prompt: str = DEFAULT_PROMPT) -> None:
    """Serve the page at ``http://host:port/`` until interrupted (Ctrl-C).

    Binding another address than loopback warns: anyone who reaches it can run the model and post answers.
    """
    app = make_app(agent, answers_db=answers_db, prompt=prompt)
    if not _is_loopback(host):
        warnings.warn(f"the tone page listens on {host!r}, not only this machine: anyone who reaches it can use the model", EmotionCircuitsWarning)
    try:
        server = make_server(host, port, app, threaded=True)
    except (OSError, SystemExit) as exc:  # werkzeug exits when the port is taken
        raise ConfigError(f"cannot listen on {host}:{port} ({exc}); the port may be in use: choose another with --port") from None
    print(f"tone page: http://{host}:{server.server_port}/  (Ctrl-C stops it)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
