"""The review application (Flask): sign-in, the queue, a flag's detail, the workflow, reports and the audit log.

Security, because captured text is hostile input and the data is about children:

- every route requires a signed-in account and checks its role; counselors see only
  their schools' flags (``Scope``), on every route, including reports and group actions;
- every read of student data by a person is written to the audit log before it is shown;
- Jinja2 autoescaping everywhere, a strict Content-Security-Policy (no inline script),
  CSRF tokens on every form (Flask-WTF), rate-limited sign-in (Flask-Limiter),
  session cookies that are HttpOnly, SameSite=Strict and Secure;
- ClickHouse is only queried with parameters (``queries.py``).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import functools
import io
import ipaddress
import logging
import uuid

import flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError, CSRFProtect

from socialwatch.config import Config
from socialwatch.files import secret_key_file
from socialwatch.storage import Storage, StorageError

from .accounts import Account, AccountStore
from .identities import IdentityDirectory
from .queries import CATEGORIES, OPEN_STATUSES, SEVERITY_RANKS, STATUSES, QueueFilter, ReviewQueries, Scope

log = logging.getLogger("socialwatch.review")

PAGE_SIZE = 50
STATUS_LABELS = {"new": "New", "in_review": "In review", "escalated": "Escalated", "resolved": "Resolved",
                 "false_positive": "False positive"}
REVIEWER_ROLES = ("counselor", "administrator")
AGE_BAND_LABELS = {"under_13": "under 13", "13_17": "13–17", "adult": "adult", "unknown": "unknown"}

csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, storage_uri="memory://", default_limits=[])


@dataclasses.dataclass
class Services:
    """What the views use; one per application."""
    queries: ReviewQueries
    accounts: AccountStore
    identities: IdentityDirectory
    config: Config


def create_app(store: Storage, config: Config, accounts: AccountStore | None = None,
               identities: IdentityDirectory | None = None) -> flask.Flask:
    from socialwatch.proxy_addons.identity import Pseudonyms

    review = config.review
    app = flask.Flask(__name__)
    app.config.update(
        SECRET_KEY=secret_key_file(review.secret_key_file),  # signs cookies and CSRF tokens
        SESSION_COOKIE_NAME="socialwatch_review",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=review.secure_cookies,
        SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=datetime.timedelta(minutes=review.session_minutes),
        WTF_CSRF_TIME_LIMIT=review.session_minutes * 60,
        MAX_CONTENT_LENGTH=256 * 1024,
    )
    app.jinja_env.autoescape = True  # also for the .html.j2 templates
    app.extensions["socialwatch"] = Services(
        ReviewQueries(store, review.duplicate_window_minutes),
        accounts or AccountStore(review.accounts_file),
        identities or IdentityDirectory(Pseudonyms(config.identity.pseudonym_key_file), config.identity.roster_dir,
                                        config.identity.inventory_file),
        config,
    )
    csrf.init_app(app)
    limiter.init_app(app)
    app.register_blueprint(views)
    from .activity import blueprint as activity_log  # (imports this module's helpers)
    app.register_blueprint(activity_log)
    app.register_error_handler(CSRFError, lambda e: (flask.render_template(
        "error.html.j2", message="The form expired or did not come from this application; please try again."), 400))
    app.register_error_handler(StorageError, _storage_error)
    for code, message in ((403, "You do not have access to this page."), (404, "There is nothing here."),
                          (429, "Too many attempts; wait a minute and try again.")):
        app.register_error_handler(code, functools.partial(_error_page, code, message))
    app.after_request(_security_headers)
    return app


def _error_page(code: int, message: str, _error: Exception):
    return flask.render_template("error.html.j2", message=message), code


def _storage_error(error: StorageError):
    log.error("review: %s", error)
    return flask.render_template("error.html.j2", message="The event store is not answering; try again shortly."), 503


def _security_headers(response: flask.Response) -> flask.Response:
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    if response.mimetype != "text/css":
        response.headers["Cache-Control"] = "no-store"
    return response


views = flask.Blueprint("review", __name__, template_folder="templates", static_folder="static",
                        static_url_path="/static")


def services() -> Services:
    return flask.current_app.extensions["socialwatch"]


def current_account() -> Account | None:
    """The signed-in account: from the single-sign-on header when the request comes from a trusted
    proxy, else from the session cookie. Re-read from the accounts file at every request, so a
    role or school change (or a removal) applies at once."""
    review = services().config.review
    if review.trusted_header:
        remote = flask.request.remote_addr or ""
        if remote and ipaddress.ip_address(remote) in review.trusted_proxies:
            name = flask.request.headers.get(review.trusted_header, "").strip().lower()
            return services().accounts.get(name) if name else None
    username = flask.session.get("username")
    return services().accounts.get(username) if username else None


def requires(*roles: str):
    """The view needs a signed-in account with one of `roles`; it gets the account as first argument."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            account = current_account()
            if account is None:
                return flask.redirect(flask.url_for("review.sign_in", next=flask.request.path))
            if account.role not in roles:
                flask.abort(403)
            flask.g.account = account
            return view(account, *args, **kwargs)
        return wrapped
    return decorate


def scope_of(account: Account) -> Scope:
    return Scope(all_schools=account.all_schools, schools=account.schools)


@views.app_context_processor
def _template_globals():
    return {"account": flask.g.get("account"), "status_labels": STATUS_LABELS, "age_band_labels": AGE_BAND_LABELS}


# --- sign-in -------------------------------------------------------------------------------------

@views.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(lambda: services().config.review.sign_in_limit, methods=["POST"])
def sign_in():
    error = ""
    if flask.request.method == "POST":
        username = flask.request.form.get("username", "").strip().lower()[:64]
        account = services().accounts.authenticate(username, flask.request.form.get("password", ""))
        if account is None:
            services().queries.audit(username or "-", "sign_in_failed", "review", "wrong user name or password")
            error = "Wrong user name or password."
        else:
            flask.session.clear()
            flask.session.permanent = True
            flask.session["username"] = account.username
            services().queries.audit(account.username, "sign_in", "review", f"signed in as {account.role}")
            target = flask.request.args.get("next", "")
            return flask.redirect(target if _local_path(target) else flask.url_for("review.home"))
    return flask.render_template("sign_in.html.j2", error=error), (401 if error else 200)


def _local_path(target: str) -> bool:
    """Only paths of this application are followed after sign-in (no open redirect)."""
    return target.startswith("/") and not target.startswith("//") and "\\" not in target


@views.post("/sign-out")
def sign_out():
    account = current_account()
    if account:
        services().queries.audit(account.username, "sign_out", "review", "signed out")
    flask.session.clear()
    return flask.redirect(flask.url_for("review.sign_in"))


@views.get("/")
@requires("counselor", "administrator", "it")
def home(account: Account):
    return flask.redirect(flask.url_for("review.health" if account.role == "it" else "review.queue"))


# --- the queue -----------------------------------------------------------------------------------

def parse_moment(value: str, *, end: bool = False) -> datetime.datetime | None:
    """``YYYY-MM-DD`` (the whole day: its start, or the next day's start when `end`) or
    ``YYYY-MM-DDTHH:MM[:SS]``, UTC; None when empty; 400 when it is neither."""
    value = value.strip()[:32]
    if not value:
        return None
    for form, whole_day in (("%Y-%m-%d", True), ("%Y-%m-%dT%H:%M", False), ("%Y-%m-%d %H:%M", False),
                            ("%Y-%m-%dT%H:%M:%S", False)):
        try:
            moment = datetime.datetime.strptime(value, form).replace(tzinfo=datetime.UTC)
        except ValueError:
            continue
        return moment + datetime.timedelta(days=1) if whole_day and end else moment
    flask.abort(400)


def queue_filter(args) -> QueueFilter:
    def choice(name: str, allowed) -> str:
        value = args.get(name, "")
        return value if value in allowed else ""

    status = args.get("status", "open")
    return QueueFilter(
        category=choice("category", CATEGORIES), severity=choice("severity", SEVERITY_RANKS),
        status=status if status in (*STATUSES, "open", "all") else "open",
        school=args.get("school", "")[:200], platform=args.get("platform", "")[:64],
        since=parse_moment(args.get("since", "")), until=parse_moment(args.get("until", ""), end=True))


@views.get("/queue")
@requires(*REVIEWER_ROLES)
def queue(account: Account):
    scope = scope_of(account)
    flt = queue_filter(flask.request.args)
    page = max(1, flask.request.args.get("page", 1, type=int) or 1)
    q = services().queries
    items = q.queue(scope, flt, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    counts = q.status_counts(scope, dataclasses.replace(flt, status="all"))
    q.audit(account.username, "view_queue", "queue", _describe_filter(flt, page))
    args = {k: v for k, v in flask.request.args.items() if k != "page"}
    return flask.render_template(
        "queue.html.j2", items=items[:PAGE_SIZE], counts=counts, flt=flt, page=page, more=len(items) > PAGE_SIZE,
        args=args, options=q.filter_options(scope), categories=CATEGORIES, severities=list(SEVERITY_RANKS),
        statuses=STATUSES, open_statuses=OPEN_STATUSES)


def _describe_filter(flt: QueueFilter, page: int) -> str:
    parts = [f"{name}={value}" for name, value in dataclasses.asdict(flt).items() if value]
    return f"queue page {page}" + (f" ({', '.join(parts)})" if parts else "")


@views.post("/groups/action")
@requires(*REVIEWER_ROLES)
def group_action(account: Account):
    """Set one status on every flag of a group of near-duplicates (those in the account's scope)."""
    status = flask.request.form.get("status", "")
    if status not in STATUSES:
        flask.abort(400)
    ids = [value for value in flask.request.form.getlist("flag_id") if _is_uuid(value)][:1000]
    flags = services().queries.flags_in_scope(scope_of(account), ids)
    if not flags or len(flags) != len(set(ids)):
        flask.abort(404)  # a flag outside the scope is not acknowledged to exist
    note = flask.request.form.get("note", "")[:4000]
    services().queries.record_action(account.username, flags, "status", status=status, note=note)
    services().queries.audit(account.username, "review", ",".join(f["flag_id"] for f in flags)[:4000],
                             f"set {len(flags)} near-duplicate flags to {status}")
    flask.flash(f"{len(flags)} flags marked {STATUS_LABELS[status].lower()}.")
    return flask.redirect(flask.url_for("review.queue"))


# --- one flag ------------------------------------------------------------------------------------

def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
        return True
    except ValueError:
        return False


def load_flag(account: Account, flag_id: str) -> dict:
    if not _is_uuid(flag_id):
        flask.abort(404)
    flag = services().queries.flag(scope_of(account), flag_id)
    if flag is None:
        flask.abort(404)
    return flag


def flag_time(flag: dict) -> datetime.datetime:
    """The flag's time as stored ("YYYY-MM-DD HH:MM:SS", UTC)."""
    return datetime.datetime.strptime(flag["time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=datetime.UTC)


def highlighted(text: str, starts: list[int], ends: list[int]) -> list[tuple[str, int | None]]:
    """`text` cut into (segment, match number or None), so the template can mark each matched span."""
    segments, at = [], 0
    for number, (start, end) in sorted(enumerate(zip(starts, ends)), key=lambda item: item[1]):
        start, end = max(start, at), min(end, len(text))
        if start >= end:
            continue
        if start > at:
            segments.append((text[at:start], None))
        segments.append((text[start:end], number))
        at = end
    if at < len(text):
        segments.append((text[at:], None))
    return segments


def _detail(account: Account, flag: dict, person=None, reason: str = ""):
    q = services().queries
    config = services().config
    when = flag_time(flag)
    reviewers = [a for a in services().accounts.all()
                 if a.role in REVIEWER_ROLES and a.may_see(flag["school"])]
    matches = [dict(zip(("phrase", "subcategory", "severity", "weight", "start", "end"), values)) for values in zip(
        flag["match_phrase"], flag["match_subcategory"], flag["match_severity"], flag["match_weight"],
        flag["match_start"], flag["match_end"])]
    return flask.render_template(
        "flag.html.j2", flag=flag, matches=matches,
        segments=highlighted(flag["text"], flag["match_start"], flag["match_end"]),
        activity=q.device_activity(flag["device"], when, config.review.context_minutes),
        earlier=q.earlier_flags(scope_of(account), flag["person"], when),
        timeline=q.timeline(flag["flag_id"]), reviewers=reviewers, statuses=STATUSES,
        person=person, reason=reason, context_minutes=config.review.context_minutes)


@views.get("/flags/<flag_id>")
@requires(*REVIEWER_ROLES)
def flag_detail(account: Account, flag_id: str):
    flag = load_flag(account, flag_id)
    services().queries.audit(account.username, "view_flag", flag["flag_id"],
                             f"opened the {flag['category']} flag")
    return _detail(account, flag)


@views.post("/flags/<flag_id>/reveal")
@requires(*REVIEWER_ROLES)
def reveal(account: Account, flag_id: str):
    flag = load_flag(account, flag_id)
    reason = " ".join(flask.request.form.get("reason", "").split())[:500]
    if len(reason) < 10:
        flask.flash("Say why you need to know who this is (at least 10 characters).")
        return flask.redirect(flask.url_for("review.flag_detail", flag_id=flag["flag_id"]))
    person = services().identities.lookup(flag["person"])
    services().queries.audit(account.username, "reveal", flag["flag_id"],
                             f"revealed person {flag['person'] or '(unknown)'}: {reason}")
    return _detail(account, flag, person=person or "unknown", reason=reason)


@views.post("/flags/<flag_id>/action")
@requires(*REVIEWER_ROLES)
def flag_action(account: Account, flag_id: str):
    """acknowledge, status, assign or note."""
    flag = load_flag(account, flag_id)
    form = flask.request.form
    action = form.get("action", "")
    note = form.get("note", "")[:4000]
    q = services().queries
    if action == "acknowledge":
        q.record_action(account.username, [flag], "acknowledge", status="in_review", note=note)
        detail = "acknowledged; status in_review"
    elif action == "status" and form.get("status") in STATUSES:
        q.record_action(account.username, [flag], "status", status=form["status"], note=note)
        detail = f"status {form['status']}"
    elif action == "assign":
        assignee = services().accounts.get(form.get("assignee", ""))
        if assignee is None or assignee.role not in REVIEWER_ROLES or not assignee.may_see(flag["school"]):
            flask.abort(400)
        q.record_action(account.username, [flag], "assign", assignee=assignee.username, note=note)
        detail = f"assigned to {assignee.username}"
    elif action == "note" and note.strip():
        q.record_action(account.username, [flag], "note", note=note)
        detail = "added a note"
    else:
        flask.abort(400)
    q.audit(account.username, "review", flag["flag_id"], detail)
    return flask.redirect(flask.url_for("review.flag_detail", flag_id=flag["flag_id"]))


@views.post("/flags/<flag_id>/false-positive")
@requires(*REVIEWER_ROLES)
def false_positive(account: Account, flag_id: str):
    """Mark a false positive and, optionally, propose that its phrase not count in this context."""
    flag = load_flag(account, flag_id)
    form = flask.request.form
    note = form.get("note", "")[:4000]
    q = services().queries
    q.record_action(account.username, [flag], "status", status="false_positive", note=note)
    detail = "status false_positive"
    phrase, context = form.get("phrase", "").strip(), " ".join(form.get("context", "").split())[:100]
    message = "Marked as a false positive."
    if phrase and context:
        if phrase not in flag["match_phrase"]:
            flask.abort(400)
        refusal = suppression_refusal(flag["category"], context)
        if refusal:
            message += f" No suppression was proposed: {refusal}"
        else:
            suppression = q.propose_suppression(account.username, flag, phrase, context, note)
            detail += f"; proposed suppression {suppression}: {phrase!r} with {context!r}"
            message += " The suppression awaits an administrator."
    q.audit(account.username, "review", flag["flag_id"], detail)
    flask.flash(message)
    return flask.redirect(flask.url_for("review.queue"))


def suppression_refusal(category: str, context: str) -> str:
    """Why a suppression cannot be proposed, or "" when it can."""
    from socialwatch.classifier.lexicon import CATEGORIES as LEXICON_CATEGORIES
    from socialwatch.classifier.suppressions import normalized_key

    if category not in LEXICON_CATEGORIES or category == "pii":
        return "only lexicon phrases can be suppressed (personal information and policy flags cannot)."
    words = set(normalized_key(context).split())
    if words & identity_terms():
        return ("an identity term cannot be the context: it would stop the phrase counting in every "
                "text about that group.")
    return ""


@functools.cache
def identity_terms() -> frozenset[str]:
    from socialwatch.classifier.lexicon import load_lexicon
    from socialwatch.classifier.matcher import PACKAGED_LEXICONS

    directory = services().config.classifier.lexicon_dir or PACKAGED_LEXICONS
    return load_lexicon(directory).identity_terms


# --- case report ---------------------------------------------------------------------------------

@views.get("/flags/<flag_id>/report")
@requires(*REVIEWER_ROLES)
def report(account: Account, flag_id: str):
    flag = load_flag(account, flag_id)
    q = services().queries
    q.audit(account.username, "export", flag["flag_id"], "printed the case report (HTML)")
    when = flag_time(flag)
    return flask.render_template(
        "report.html.j2", flag=flag, segments=highlighted(flag["text"], flag["match_start"], flag["match_end"]),
        timeline=q.timeline(flag["flag_id"]),
        activity=q.device_activity(flag["device"], when, services().config.review.context_minutes),
        printed=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S"))


@views.get("/flags/<flag_id>/report.csv")
@requires(*REVIEWER_ROLES)
def report_csv(account: Account, flag_id: str):
    flag = load_flag(account, flag_id)
    q = services().queries
    q.audit(account.username, "export", flag["flag_id"], "exported the case report (CSV)")
    rows = [("section", "time", "field", "value")]
    for key in ("flag_id", "event_id", "time", "school", "age_band", "platform", "host", "action", "person",
                "category", "severity", "score", "threshold", "status", "explanation", "text"):
        rows.append(("flag", flag["time"], key, str(flag[key])))
    for entry in q.timeline(flag["flag_id"]):
        rows.append(("review", entry["time"], entry["action"],
                     " ".join(filter(None, (entry["reviewer"], entry["status"], entry["assignee"], entry["note"])))))
    return _csv_response(rows, f"socialwatch-case-{flag['flag_id']}.csv")


def _csv_response(rows, filename: str) -> flask.Response:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([_spreadsheet_safe(str(value)) for value in row])
    return flask.Response(out.getvalue(), mimetype="text/csv",
                          headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _spreadsheet_safe(value: str) -> str:
    """Captured text must not become a formula when the CSV is opened in a spreadsheet."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


# --- administrators ------------------------------------------------------------------------------

@views.get("/audit")
@requires("administrator")
def audit(account: Account):
    args = flask.request.args
    since = parse_moment(args.get("since", ""))
    entries = services().queries.audit_entries(actor=args.get("actor", "")[:64], action=args.get("action", "")[:64],
                                               since=since)
    services().queries.audit(account.username, "view_audit", "audit_log", f"browsed the audit log ({len(entries)} rows)")
    return flask.render_template("audit.html.j2", entries=entries, args=args)


@views.get("/audit.csv")
@requires("administrator")
def audit_csv(account: Account):
    args = flask.request.args
    entries = services().queries.audit_entries(actor=args.get("actor", "")[:64], action=args.get("action", "")[:64],
                                               since=parse_moment(args.get("since", "")), limit=100_000)
    services().queries.audit(account.username, "export_audit", "audit_log", f"exported {len(entries)} audit rows (CSV)")
    rows = [("time", "actor", "action", "object", "detail")]
    rows += [(e["time"], e["actor"], e["action"], e["object"], e["detail"]) for e in entries]
    return _csv_response(rows, "socialwatch-audit.csv")


@views.get("/suppressions")
@requires("administrator")
def suppressions(account: Account):
    return flask.render_template("suppressions.html.j2", proposals=services().queries.suppressions(),
                                 suppressions_file=services().config.classifier.suppressions_file)


@views.post("/suppressions/<suppression_id>/<decision>")
@requires("administrator")
def decide_suppression(account: Account, suppression_id: str, decision: str):
    if decision not in ("accept", "reject") or not _is_uuid(suppression_id):
        flask.abort(404)
    q = services().queries
    proposal = next((p for p in q.suppressions() if p["suppression_id"] == suppression_id), None)
    if proposal is None or proposal["status"] != "proposed":
        flask.abort(404)
    if decision == "accept":
        path = services().config.classifier.suppressions_file
        if path is None:
            flask.flash("Set classifier.suppressions_file in the configuration to accept suppressions.")
            return flask.redirect(flask.url_for("review.suppressions"))
        from socialwatch.classifier.lexicon import LexiconError
        from socialwatch.classifier.suppressions import Suppression, append_suppression

        try:
            added = append_suppression(path, Suppression(proposal["category"], proposal["phrase"],
                                                         proposal["context"], reference=suppression_id,
                                                         note=proposal["note"]))
        except (LexiconError, OSError) as e:
            log.error("review: cannot append to the suppressions file: %s", e)
            flask.flash(f"The suppressions file cannot be updated ({e}); nothing was accepted.")
            return flask.redirect(flask.url_for("review.suppressions"))
        if not added:
            flask.flash("The same suppression is already in the file.")
    status = "accepted" if decision == "accept" else "rejected"
    q.decide_suppression(account.username, proposal, status)
    q.audit(account.username, "suppression", suppression_id,
            f"{status} suppression of {proposal['phrase']!r} with {proposal['context']!r} ({proposal['category']})")
    flask.flash(f"Suppression {status}.")
    return flask.redirect(flask.url_for("review.suppressions"))


@views.get("/health")
@requires("administrator", "it")
def health(account: Account):
    """The appliance's state for IT: schema version and table sizes, no student data."""
    store = services().queries.store
    version, pending = store.schema_status()
    tables = store.query(
        """SELECT table, sum(rows) AS rows FROM system.parts
           WHERE database = {db:String} AND active GROUP BY table ORDER BY table""", {"db": store.database})
    return flask.render_template("health.html.j2", version=version, pending=pending, tables=tables)
