"""`/oauth/device`: the verification page of RFC 8628 §3.3. A signed-in admin enters the user
code the CLI shows, sees what is asked for, and approves or denies; what may be granted and the
count of wrong codes are sign-in's (`admin.signin.device.approval`), the pages are rendered
here."""

from __future__ import annotations

from aiohttp import web

from admin.console.html import esc, hidden, message, page
from admin.console.layout import nav, to_login
from admin.signin.appkeys import OAUTH_SETTINGS
from admin.signin.device import approval
from admin.signin.session.request import current_session, form_for_write
from admin.signin.session.store import Session
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


def _page(
    session: Session, body: str, *, title: str = "Approve a device", status: int = 200
) -> web.Response:
    """With the console's nav but not its header: the page's only form is the decision."""
    return page(
        f"{title} · {session.org_name}",
        nav("keys") + "<h1>Approve a device</h1>" + body,
        status=status,
    )


def _locked_page(session: Session) -> web.Response:
    return _page(
        session,
        message("Too many wrong codes. Wait a few minutes, then try again.", error=True),
        title="Too many attempts",
        status=429,
    )


def _unknown_page(session: Session, prefill: str) -> web.Response:
    return _page(session, message(_UNKNOWN, error=True) + _entry_form(prefill))


@routes.get("/oauth/device")
@public
async def verification_page(request: web.Request) -> web.Response:
    session = await current_session(request)
    if session is None:
        return to_login(request.path_qs)
    if "write" not in session.principal.scopes:
        return _page(
            session, message("Only an admin of your organization can approve devices.", error=True)
        )
    settings = request.app[OAUTH_SETTINGS]
    if approval.locked(settings, session):
        return _locked_page(session)
    typed = request.query.get("user_code", "")[:64]
    if not typed:
        return _page(session, _entry_form())
    pending = await approval.lookup(request.app[POOL], settings, session, typed)
    if pending == "locked":
        return _locked_page(session)
    if pending == "unknown":
        return _unknown_page(session, typed)
    boxes = "".join(
        f'<label><input type=checkbox name=scope value="{esc(s)}" id="scope-{esc(s)}" checked> '
        f"{esc(s)}</label> "
        for s in approval.offered(pending, session)
    )
    shown = pending.shown
    body = (
        f"<p>The application <b id=client>{esc(pending.client_id)}</b> asks to act for "
        f"<b>{esc(session.org_name)}</b> with code <code id=shown-code>{esc(shown)}</code>. "
        "Approve only if you started this sign-in yourself and the code matches your terminal.</p>"
        '<form method=post action="/oauth/device">'
        + hidden("csrf_token", session.csrf_token)
        + hidden("user_code", shown)
        + f"<p>Scopes: {boxes}</p>"
        "<button id=approve name=action value=approve>Approve</button> "
        "<button id=deny name=action value=deny>Deny</button></form>"
    )
    return _page(session, body)


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
    chosen = approval.chosen_scopes([v for v in form.getall("scope", []) if isinstance(v, str)])
    settings, pool = request.app[OAUTH_SETTINGS], request.app[POOL]
    if approval.locked(settings, session):
        return _locked_page(session)
    pending = await approval.lookup(pool, settings, session, typed[:64])
    if pending == "locked":
        return _locked_page(session)
    if pending == "unknown":
        return _unknown_page(session, typed[:64])
    granted = approval.granted_scopes(pending, chosen, session, action)
    if not await approval.decide(pool, settings, session, pending, action, granted):
        return _unknown_page(session, typed[:64])
    if action == "approve":
        text = (
            f"Device approved for {session.org_name} with scopes "
            f"{' '.join(sorted(granted))}. You can return to your terminal."
        )
    else:
        text = "Device denied. It will not get access."
    return _page(
        session,
        message(text, id="result") + '<p><a href="/console/keys">Back to keys and devices</a> · '
        '<a href="/oauth/device">Approve another</a></p>',
    )
