"""The shared sidebar filters: one view across pages, mirrored in the URL so a link shares it.

The entry script (app.py) draws them before running the page, so their state survives page switches.
A session opens on the data's last four weeks (``data.DEFAULT_DAYS``), everything else unfiltered. On its first
run the URL's query string seeds the filters (``?from=2026-07-01&to=2026-07-31&team=payments``, repeated keys
for several values); every run writes the current view back (defaults left out, so a plain URL keeps showing
the latest four weeks as data arrives). Values the snapshot does not know are dropped, never an error.
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from dashboards.data import DEFAULT_DAYS, DIMENSIONS, FilterOptions, Filters

# dimension → (widget key, query parameter, label)
WIDGETS = {
    "team": ("f_team", "team", "Team"),
    "app": ("f_app", "app", "App (part-of)"),
    "service": ("f_service", "service", "Service"),
    "environment": ("f_environment", "env", "Environment"),
}
DATES_KEY = "f_dates"
QUERY_KEYS = ("from", "to", *(w[1] for w in WIDGETS.values()))
_INITIALISED = "_filters_initialised"
_CURRENT = "_filters"


def _parse_date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _clamp(day: date, opts: FilterOptions) -> date:
    return min(max(day, opts.first), opts.last)


def _seed_from_url(opts: FilterOptions) -> None:
    params = st.query_params
    start = _parse_date(params.get("from")) or opts.default_start
    end = _parse_date(params.get("to")) or opts.last
    start, end = _clamp(start, opts), _clamp(end, opts)
    st.session_state[DATES_KEY] = (min(start, end), max(start, end))
    for dim, (key, param, _) in WIDGETS.items():
        known = set(getattr(opts, dim))
        st.session_state[key] = [v for v in params.get_all(param) if v in known]


def _sanitise(opts: FilterOptions) -> None:
    """Keep the state valid for this snapshot's options (a new snapshot may change them)."""
    ss = st.session_state
    dates = ss.get(DATES_KEY) or (opts.default_start, opts.last)
    if not isinstance(dates, (tuple, list)):
        dates = (dates, dates)
    if len(dates) == 1:  # the user picked the start of a range and not yet its end
        dates = (dates[0], opts.last)
    if len(dates) == 0:
        dates = (opts.default_start, opts.last)
    start, end = _clamp(dates[0], opts), _clamp(dates[1], opts)
    if tuple(dates) != (start, end):
        ss[DATES_KEY] = (start, end)
    for dim, (key, _, _) in WIDGETS.items():
        known = set(getattr(opts, dim))
        values = ss.get(key) or []
        if any(v not in known for v in values):
            ss[key] = [v for v in values if v in known]


def _reset(opts: FilterOptions) -> None:
    st.session_state[DATES_KEY] = (opts.default_start, opts.last)
    for key, _, _ in WIDGETS.values():
        st.session_state[key] = []


def _service_options(opts: FilterOptions) -> list[str]:
    """Services of the chosen teams/apps (all when none), plus any already chosen."""
    teams = set(st.session_state.get(WIDGETS["team"][0]) or [])
    apps = set(st.session_state.get(WIDGETS["app"][0]) or [])
    chosen = st.session_state.get(WIDGETS["service"][0]) or []
    keep = [
        s for s in opts.service
        if (not teams or opts.catalogue.get(s, (None, None))[0] in teams)
        and (not apps or opts.catalogue.get(s, (None, None))[1] in apps)
    ]
    return keep + [s for s in chosen if s not in keep]


def sidebar(opts: FilterOptions) -> Filters:
    """Draw the filters in the sidebar, mirror them in the URL, and return the view."""
    ss = st.session_state
    if not ss.get(_INITIALISED):
        _seed_from_url(opts)
        ss[_INITIALISED] = True
    _sanitise(opts)
    with st.sidebar:
        st.markdown("**Filters** — apply to every page")
        st.date_input(
            "Date range (UTC)", key=DATES_KEY, min_value=opts.first, max_value=opts.last, format="YYYY-MM-DD",
            help=f"Opens on the last {DEFAULT_DAYS} days of data. Deployments and changes count by their "
                 "production deployment's date, incidents by the time they opened, artifacts by the time they "
                 "were built.",
        )
        for dim, (key, _, label) in WIDGETS.items():
            options = _service_options(opts) if dim == "service" else getattr(opts, dim)
            st.multiselect(label, options, key=key, placeholder=f"All ({len(options)})")
        st.button("Reset filters", on_click=_reset, args=(opts,), width="stretch")
    view = current_from_state(opts)
    ss[_CURRENT] = view
    _write_url(view, opts)
    return view


def current_from_state(opts: FilterOptions) -> Filters:
    ss = st.session_state
    dates = ss.get(DATES_KEY) or (opts.default_start, opts.last)
    if not isinstance(dates, (tuple, list)):
        dates = (dates, dates)
    start = dates[0] if len(dates) > 0 else opts.default_start
    end = dates[1] if len(dates) > 1 else opts.last
    values = {dim: tuple(ss.get(key) or ()) for dim, (key, _, _) in WIDGETS.items()}
    return Filters(start=start, end=end, **values)


def current() -> Filters:
    """The view the sidebar set on this run (pages call this)."""
    return st.session_state[_CURRENT]


def url_params(view: Filters, opts: FilterOptions) -> dict[str, str | list[str]]:
    """The query parameters of a view; defaults left out."""
    params: dict[str, str | list[str]] = {}
    if view.start != opts.default_start:
        params["from"] = view.start.isoformat()
    if view.end != opts.last:
        params["to"] = view.end.isoformat()
    for dim in DIMENSIONS:
        values = list(getattr(view, dim))
        if values:
            params[WIDGETS[dim][1]] = values if len(values) > 1 else values[0]
    return params


def _write_url(view: Filters, opts: FilterOptions) -> None:
    wanted = url_params(view, opts)
    qp = st.query_params
    for key in QUERY_KEYS:
        if key not in wanted and key in qp:
            del qp[key]
    for key, value in wanted.items():
        current = qp.get_all(key)
        target = value if isinstance(value, list) else [value]
        if current != target:
            qp[key] = value
