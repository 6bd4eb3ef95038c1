"""The activity log, for administrators: aggregates first, individuals only with a stated, audited reason.

- ``GET /activity``: counts of social-media requests per school, platform, action
  and hour or day, from the ``activity_hourly`` rollup (never a device or a person);
  filters: school, platform, action, time range (UTC, whole hours: the rollup's
  resolution). ``GET /activity.csv``: the same as CSV.
- ``POST /activity/rows`` (and ``/activity/rows.csv``): one device's (exact
  address) or one person's (pseudonymous id) events with the same filters, newest
  first, at most ``MAX_ROWS``, metadata only (the events table has no text; the
  path and the target, which can name another account, are left out). Only with a
  reason of at least ``MIN_REASON`` characters, which goes to the audit log with
  the request before anything is shown, like the identity reveal of a flag.

Every view and export is written to the audit log. Counselors and IT get 403.
"""

from __future__ import annotations

import dataclasses
import datetime

import flask

from .accounts import Account
from .app import _csv_response, parse_moment, requires, services

blueprint = flask.Blueprint("activity", __name__, template_folder="templates")

DEFAULT_DAYS = 7
"""Without a start, the last this many days are shown."""
MAX_AGGREGATE_ROWS = 2000
"""Aggregate rows on the page; the CSV has up to MAX_EXPORT_ROWS."""
MAX_EXPORT_ROWS = 100_000
MAX_ROWS = 1000
"""Individual events shown or exported at once, newest first."""
MIN_REASON = 10
PERIODS = {"hour": 3600, "day": 86400}
ROW_COLUMNS = ("time", "device", "person", "school", "age_band", "platform", "host", "action", "status", "flagged",
               "source", "protocol", "request_bytes", "response_bytes")


@dataclasses.dataclass(frozen=True)
class ActivityFilter:
    school: str = ""
    platform: str = ""
    action: str = ""
    since: datetime.datetime | None = None
    until: datetime.datetime | None = None
    """Exclusive."""
    per: str = "day"

    def clauses(self, time_column: str) -> tuple[list[str], dict]:
        where, params = [], {}
        for name in ("school", "platform", "action"):
            if getattr(self, name):
                where.append(f"{name} = {{f_{name}:String}}")
                params[f"f_{name}"] = getattr(self, name)
        if self.since:
            where.append(f"{time_column} >= {{f_since:DateTime('UTC')}}")
            params["f_since"] = self.since
        if self.until:
            where.append(f"{time_column} < {{f_until:DateTime('UTC')}}")
            params["f_until"] = self.until
        return where, params

    def hourly(self) -> ActivityFilter:
        """The filter on the rollup: the range widened to whole hours."""
        def floor(moment):
            return moment.replace(minute=0, second=0, microsecond=0) if moment else None

        until = floor(self.until)
        if until is not None and until != self.until:
            until += datetime.timedelta(hours=1)
        return dataclasses.replace(self, since=floor(self.since), until=until)

    def describe(self) -> str:
        parts = [f"{name}={getattr(self, name)}" for name in ("school", "platform", "action") if getattr(self, name)]
        parts.append(f"from {_text(self.since) if self.since else 'the start'}")
        parts.append(f"to {_text(self.until) if self.until else 'now'}")
        return ", ".join(parts)


def _text(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def activity_filter(values) -> ActivityFilter:
    since = parse_moment(values.get("since", ""))
    if since is None:
        since = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=DEFAULT_DAYS)).replace(
            minute=0, second=0, microsecond=0)
    per = values.get("per", "day")
    return ActivityFilter(school=values.get("school", "")[:200], platform=values.get("platform", "")[:64],
                          action=values.get("action", "")[:64], since=since,
                          until=parse_moment(values.get("until", ""), end=True), per=per if per in PERIODS else "day")


def _form_values(flt: ActivityFilter) -> dict:
    """The filter as form and link values, times as datetime-local inputs take them (the start always
    given, so that a page or an export can be reproduced)."""
    return {"school": flt.school, "platform": flt.platform, "action": flt.action, "per": flt.per,
            "since": flt.since.strftime("%Y-%m-%dT%H:%M") if flt.since else "",
            "until": flt.until.strftime("%Y-%m-%dT%H:%M") if flt.until else ""}


# --- queries -------------------------------------------------------------------------------------

def aggregates(flt: ActivityFilter, limit: int) -> list[dict]:
    """Events and flagged events per period, school, platform and action, newest period first."""
    where, params = flt.hourly().clauses("hour")
    rows = services().queries.store.query(
        f"""SELECT intDiv(toUInt32(hour), {{period:UInt32}}) * {{period:UInt32}} AS period_start,
                   school, platform, action, sum(events) AS n_events, sum(flagged) AS n_flagged
            FROM {{database}}.activity_hourly
            WHERE {' AND '.join(where) or '1'}
            GROUP BY period_start, school, platform, action
            ORDER BY period_start DESC, n_events DESC, school, platform, action
            LIMIT {{limit:UInt32}}""",
        {**params, "period": PERIODS[flt.per], "limit": limit})
    form = "%Y-%m-%d %H:00" if flt.per == "hour" else "%Y-%m-%d"
    return [{"period": datetime.datetime.fromtimestamp(int(row["period_start"]), datetime.UTC).strftime(form),
             "school": row["school"], "platform": row["platform"], "action": row["action"],
             "events": int(row["n_events"]), "flagged": int(row["n_flagged"])} for row in rows]


def totals(flt: ActivityFilter) -> dict:
    where, params = flt.hourly().clauses("hour")
    rows = services().queries.store.query(
        f"""SELECT sum(events) AS n_events, sum(flagged) AS n_flagged,
                   groupUniqArray(school) AS schools, groupUniqArray(platform) AS platforms,
                   groupUniqArray(action) AS actions
            FROM {{database}}.activity_hourly WHERE {' AND '.join(where) or '1'}""", params)
    row = rows[0] if rows else {}
    return {"events": int(row.get("n_events") or 0), "flagged": int(row.get("n_flagged") or 0),
            "schools": len(row.get("schools") or []), "platforms": len(row.get("platforms") or []),
            "actions": len(row.get("actions") or [])}


def options(flt: ActivityFilter) -> dict[str, list[str]]:
    """Schools, platforms and actions of the time range, for the filter menus (the chosen ones always in)."""
    where, params = dataclasses.replace(flt.hourly(), school="", platform="", action="").clauses("hour")
    rows = services().queries.store.query(
        f"""SELECT groupUniqArray(school) AS schools, groupUniqArray(platform) AS platforms,
                   groupUniqArray(action) AS actions
            FROM {{database}}.activity_hourly WHERE {' AND '.join(where) or '1'}""", params)
    row = rows[0] if rows else {}
    chosen = {"schools": flt.school, "platforms": flt.platform, "actions": flt.action}
    return {key: sorted({*(v for v in row.get(key) or [] if v), *([chosen[key]] if chosen[key] else [])})
            for key in chosen}


def individual_rows(flt: ActivityFilter, device: str, person: str, limit: int = MAX_ROWS) -> list[dict]:
    where, params = flt.clauses("time")
    if device:
        where.append("device = {device:String}")
        params["device"] = device
    if person:
        where.append("person = {person:String}")
        params["person"] = person
    return services().queries.store.query(
        f"""SELECT {', '.join(ROW_COLUMNS)} FROM {{database}}.events FINAL
            WHERE {' AND '.join(where)}
            ORDER BY time DESC, event_id LIMIT {{limit:UInt32}}""", {**params, "limit": limit})


# --- views ---------------------------------------------------------------------------------------

@blueprint.get("/activity")
@requires("administrator")
def activity(account: Account):
    flt = activity_filter(flask.request.args)
    return _page(account, flt)


def _page(account: Account, flt: ActivityFilter, *, rows: list[dict] | None = None, device: str = "",
          person: str = "", reason: str = ""):
    table = aggregates(flt, MAX_AGGREGATE_ROWS + 1)
    if rows is None:  # (individual rows were audited, with their reason, by the caller)
        services().queries.audit(account.username, "view_activity", "activity_hourly",
                                 f"viewed activity aggregates per {flt.per} ({flt.describe()})")
    form = _form_values(flt)
    return flask.render_template(
        "activity.html.j2", flt=flt, form=form, table=table[:MAX_AGGREGATE_ROWS],
        truncated=len(table) > MAX_AGGREGATE_ROWS, totals=totals(flt), options=options(flt),
        rows=rows, device=device, person=person, reason=reason, max_rows=MAX_ROWS, min_reason=MIN_REASON,
        columns=ROW_COLUMNS, periods=list(PERIODS))


@blueprint.get("/activity.csv")
@requires("administrator")
def activity_csv(account: Account):
    flt = activity_filter(flask.request.args)
    table = aggregates(flt, MAX_EXPORT_ROWS)
    services().queries.audit(account.username, "export_activity", "activity_hourly",
                             f"exported {len(table)} activity aggregate rows per {flt.per} (CSV; {flt.describe()})")
    rows = [(flt.per, "school", "platform", "action", "events", "flagged")]
    rows += [(r["period"], r["school"], r["platform"], r["action"], r["events"], r["flagged"]) for r in table]
    return _csv_response(rows, f"socialwatch-activity-per-{flt.per}.csv")


def _individual_request(account: Account, audit_action: str):
    """(filter, device, person, reason, rows) after the checks and the audit entry; or a redirect back."""
    form = flask.request.form
    flt = activity_filter(form)
    device = form.get("device", "").strip()[:64]
    person = form.get("person", "").strip()[:128]
    reason = " ".join(form.get("reason", "").split())[:500]
    back = flask.redirect(flask.url_for("activity.activity", **{k: v for k, v in _form_values(flt).items() if v}))
    if not device and not person:
        flask.flash("Give the device address or the person (pseudonymous id) whose activity you need.")
        return None, back
    if len(reason) < MIN_REASON:
        flask.flash(f"Say why you need this person's or device's activity (at least {MIN_REASON} characters).")
        return None, back
    rows = individual_rows(flt, device, person)
    whose = " and ".join(filter(None, (device and f"device {device}", person and f"person {person}")))
    services().queries.audit(account.username, audit_action, whose,
                             f"{len(rows)} events of {whose} ({flt.describe()}): {reason}")
    return (flt, device, person, reason, rows), None


@blueprint.post("/activity/rows")
@requires("administrator")
def activity_rows(account: Account):
    request, back = _individual_request(account, "view_activity_rows")
    if request is None:
        return back
    flt, device, person, reason, rows = request
    return _page(account, flt, rows=rows, device=device, person=person, reason=reason)


@blueprint.post("/activity/rows.csv")
@requires("administrator")
def activity_rows_csv(account: Account):
    request, back = _individual_request(account, "export_activity_rows")
    if request is None:
        return back
    _flt, _device, _person, _reason, rows = request
    out = [ROW_COLUMNS] + [tuple(row[column] for column in ROW_COLUMNS) for row in rows]
    return _csv_response(out, "socialwatch-activity-events.csv")
