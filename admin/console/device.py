"""`/oauth/device`: the verification page of RFC 8628 §3.3. A signed-in admin enters the user
code the CLI shows, sees what is asked for, and approves (for their own org, with at most the
scopes asked for and their own) or denies. Wrong codes are counted per session and, past the
limit, refused for a while (§5.1): a user code is short and must not be guessable."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from admin.console.html import esc, hidden, message, page
from admin.console.routes import to_login
from admin.console.session import current_session, form_for_write
from admin.oauth import store
from admin.oauth.config import OAUTH_SETTINGS
from admin.oauth.policy import SCOPES, normalize_user_code, verification_locked
from admin.oidc.store import Session, record_code_failure
from voltcore.appkeys import POOL
from voltcore.errors import InvalidRequest
from voltcore.http import public

routes = web.RouteTableDef()

_UNKNOWN = "That code is unknown, has expired or was already used. Check the code in your terminal."


def _entry_form(prefill: str = "") -> str:
    return (
        '<form method=get action="/oauth/device"><label>Code shown by the CLI '
        f'<input id=user-code name=user_code value="{esc(prefill)}" autocomplete=off '
        "autocapitalize=characters required></label> <button id=continue>Continue</button></form>"
    )


def _locked(request: web.Request, session: Session) -> bool:
    settings = request.app[OAUTH_SETTINGS]
    return verification_locked(
        session.failed_codes,
        session.failed_since,
        dt.datetime.now(dt.UTC),
        max_failures=settings.verify_max_failures,
        window=dt.timedelta(seconds=settings.verify_window_s),
    )


def _locked_page() -> web.Response:
    return page(
        "Too many attempts",
        "<h1>Approve a device</h1>"
        + message("Too many wrong codes. Wait a few minutes, then try again.", error=True),
        status=429,
    )


async def _failed(request: web.Request, session: Session, prefill: str) -> web.Response:
    await record_code_failure(
        request.app[POOL], session.id, request.app[OAUTH_SETTINGS].verify_window_s
    )
    return page(
        "Approve a device",
        "<h1>Approve a device</h1>" + message(_UNKNOWN, error=True) + _entry_form(prefill),
    )


@routes.get("/oauth/device")
@public
async def verification_page(request: web.Request) -> web.Response:
    session = await current_session(request)
    if session is None:
        return to_login(request.path_qs)
    if "write" not in session.principal.scopes:
        return page(
            "Approve a device",
            "<h1>Approve a device</h1>"
            + message("Only an admin of your organization can approve devices.", error=True),
        )
    if _locked(request, session):
        return _locked_page()
    typed = request.query.get("user_code", "")[:64]
    if not typed:
        return page("Approve a device", "<h1>Approve a device</h1>" + _entry_form())
    user_code = normalize_user_code(typed)
    row = None if user_code is None else await store.pending_code(request.app[POOL], user_code)
    if user_code is None or row is None:
        return await _failed(request, session, typed)
    offered = [s for s in SCOPES if s in row["scopes"] and s in session.principal.scopes]
    boxes = "".join(
        f'<label><input type=checkbox name=scope value="{esc(s)}" id="scope-{esc(s)}" checked> '
        f"{esc(s)}</label> "
        for s in offered
    )
    shown = f"{user_code[:4]}-{user_code[4:]}"
    body = (
        "<h1>Approve a device</h1>"
        f"<p>The application <b id=client>{esc(row['client_id'])}</b> asks to act for "
        f"<b>{esc(session.org_name)}</b> with code <code id=shown-code>{esc(shown)}</code>. "
        "Approve only if you started this sign-in yourself and the code matches your terminal.</p>"
        '<form method=post action="/oauth/device">'
        + hidden("csrf_token", session.csrf_token)
        + hidden("user_code", shown)
        + f"<p>Scopes: {boxes}</p>"
        "<button id=approve name=action value=approve>Approve</button> "
        "<button id=deny name=action value=deny>Deny</button></form>"
    )
    return page("Approve a device", body)


def _chosen_scopes(values: list[str]) -> set[str] | None:
    chosen = {s for v in values for s in v.split()}
    if not chosen <= set(SCOPES):
        raise InvalidRequest(
            f"Unknown scope in {sorted(chosen)}; scopes are 'read' and 'write'.",
            param="scope",
            code="invalid_value",
        )
    return chosen or None


@routes.post("/oauth/device")
@public
async def submit_verification(request: web.Request) -> web.Response:
    session, form = await form_for_write(request)
    action = form.get("action")
    if action not in ("approve", "deny"):
        raise InvalidRequest(
            "'action' must be 'approve' or 'deny'.", param="action", code="invalid_value"
        )
    typed = form.get("user_code")
    if not isinstance(typed, str) or not typed:
        raise InvalidRequest(
            "Missing required parameter: 'user_code'.",
            param="user_code",
            code="missing_required_parameter",
        )
    chosen = _chosen_scopes([v for v in form.getall("scope", []) if isinstance(v, str)])
    if _locked(request, session):
        return _locked_page()
    user_code = normalize_user_code(typed[:64])
    pool = request.app[POOL]
    row = None if user_code is None else await store.pending_code(pool, user_code)
    if user_code is None or row is None:
        return await _failed(request, session, typed[:64])
    requested = set(row["scopes"])
    if chosen is not None and not chosen <= requested:
        raise InvalidRequest(
            f"Only the scopes the device asked for may be granted: {sorted(requested)}.",
            param="scope",
            code="invalid_value",
        )
    # Never more than the device asked for, nor more than the approving admin holds.
    granted = (chosen or requested) & session.principal.scopes
    if action == "approve" and not granted:
        raise InvalidRequest("Grant at least one scope.", param="scope", code="invalid_value")
    decided = await store.decide(
        pool,
        user_code,
        decision="approved" if action == "approve" else "denied",
        org_id=session.org_id,
        user_id=session.user_id,
        granted=sorted(granted),
    )
    if decided is None:  # decided or expired between the lookup and now
        return await _failed(request, session, typed[:64])
    if action == "approve":
        text = (
            f"Device approved for {session.org_name} with scopes "
            f"{' '.join(sorted(granted))}. You can return to your terminal."
        )
    else:
        text = "Device denied. It will not get access."
    return page(
        "Approve a device",
        "<h1>Approve a device</h1>"
        + message(text, id="result")
        + '<p><a href="/console">Back to the console</a> · '
        '<a href="/oauth/device">Approve another</a></p>',
    )
