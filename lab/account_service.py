"""A Redfish AccountService in front of sushy-tools' emulator, which has none. Real BMCs
(iDRAC, iLO, OpenBMC) implement it; the emulator only checks basic auth against an htpasswd
file that it re-reads on every request. This shim serves `/redfish/v1/AccountService/Accounts`
as the Redfish spec defines it, keeps the accounts in that very file (bcrypt), and forwards
everything else to the emulator untouched, so a minted account logs in to the real emulator
and stops working the moment it is deleted.

Roles: only an Administrator may manage accounts (403 otherwise), which is what makes a minted
`Operator` least-privilege here; the emulator itself cannot tell roles apart. They are kept in
`roles.json` beside the htpasswd file, so that a restarted lab BMC still knows its accounts."""

from __future__ import annotations

import base64
import http.client
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import bcrypt

ACCOUNTS = "/redfish/v1/AccountService/Accounts"
ROLES = ("Administrator", "Operator", "ReadOnly")


class Accounts:
    """The htpasswd file plus each user's role (kept beside it, in roles.json)."""

    def __init__(self, htpasswd: Path, admin: str) -> None:
        self.htpasswd = htpasswd
        self._roles_file = htpasswd.with_name("roles.json")
        saved: dict[str, str] = {}
        if self._roles_file.exists():
            saved = json.loads(self._roles_file.read_text())
        self.roles: dict[str, str] = saved | {admin: "Administrator"}
        self.lock = threading.Lock()
        # Seconds a create takes before the account exists (real BMCs take up to a second):
        # a test widens a race window with it.
        self.create_delay: Callable[[], float] = lambda: 0.0

    def _lines(self) -> dict[str, str]:
        lines = self.htpasswd.read_text().splitlines()
        return dict(line.split(":", 1) for line in lines if ":" in line)

    def _write(self, users: dict[str, str]) -> None:
        self.htpasswd.write_text("".join(f"{u}:{h}\n" for u, h in users.items()))
        self._roles_file.write_text(json.dumps(self.roles))

    def check(self, username: str, password: str) -> str | None:
        hashed = self._lines().get(username)
        if hashed and bcrypt.checkpw(password.encode(), hashed.encode()):
            return self.roles.get(username, "ReadOnly")
        return None

    def users(self) -> list[str]:
        return list(self._lines())

    def add(self, username: str, password: str, role: str) -> bool:
        with self.lock:
            users = self._lines()
            if username in users:
                return False
            users[username] = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()
            self.roles[username] = role
            self._write(users)
            return True

    def remove(self, username: str) -> bool:
        with self.lock:
            users = self._lines()
            if users.pop(username, None) is None:
                return False
            self.roles.pop(username, None)
            self._write(users)
            return True


def _handler(accounts: Accounts, upstream: tuple[str, int]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(
            self, status: int, body: Any = None, headers: dict[str, str] | None = None
        ) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self._connection_header()
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _connection_header(self) -> None:
            # sushy asks for `Connection: close`; without saying so back, the client pools the
            # socket the server is closing, and its next request meets a dead connection
            # (a 2 s retry in sushy).
            if self.close_connection:
                self.send_header("Connection", "close")

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _role(self) -> str | None:
            auth = self.headers.get("Authorization", "")
            if not auth.startswith("Basic "):
                return None
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            return accounts.check(user, password)

        def _accounts(self) -> None:
            body = self._body()
            role = self._role()
            if role is None:
                return self._send(401, {"error": {"message": "Unauthorized"}})
            if role != "Administrator":
                return self._send(403, {"error": {"message": "Insufficient privilege"}})
            user = self.path[len(ACCOUNTS) + 1 :].strip("/")
            if self.command == "GET" and not user:
                members = [{"@odata.id": f"{ACCOUNTS}/{u}"} for u in accounts.users()]
                return self._send(200, {"Members": members, "Members@odata.count": len(members)})
            if self.command == "GET":
                if user not in accounts.users():
                    return self._send(404, {"error": {"message": "No such account"}})
                role_id = accounts.roles.get(user, "ReadOnly")
                return self._send(
                    200,
                    {
                        "@odata.id": f"{ACCOUNTS}/{user}",
                        "Id": user,
                        "UserName": user,
                        "RoleId": role_id,
                        "Enabled": True,
                    },
                )
            if self.command == "POST" and not user:
                spec = json.loads(body or b"{}")
                name, password = spec.get("UserName"), spec.get("Password")
                if not name or not password or spec.get("RoleId") not in ROLES:
                    return self._send(400, {"error": {"message": "UserName, Password, RoleId"}})
                time.sleep(accounts.create_delay())
                if not accounts.add(name, password, spec["RoleId"]):
                    return self._send(409, {"error": {"message": "Account exists"}})
                uri = f"{ACCOUNTS}/{name}"
                return self._send(201, {"@odata.id": uri, "UserName": name}, {"Location": uri})
            if self.command == "DELETE" and user:
                found = accounts.remove(user)
                return self._send(204 if found else 404)
            return self._send(405, {"error": {"message": "Method not allowed"}})

        def _forward(self) -> None:
            body = self._body()
            conn = http.client.HTTPConnection(*upstream, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            conn.request(self.command, self.path, body=body or None, headers=headers)
            reply = conn.getresponse()
            data = reply.read()
            self.send_response(reply.status)
            for k, v in reply.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self._connection_header()
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            conn.close()

        def _dispatch(self) -> None:
            if self.path.rstrip("/").startswith(ACCOUNTS):
                self._accounts()
            else:
                self._forward()

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _dispatch

    return Handler


class AccountService:
    """Usage: `svc = AccountService(Accounts(htpasswd, admin), ("127.0.0.1", emulator_port),
    port)`;
    `svc.start()`; BMC clients use `svc.url`; `svc.stop()`."""

    def __init__(self, accounts: Accounts, upstream: tuple[str, int], port: int) -> None:
        self.accounts = accounts
        self.upstream = upstream
        self.port = port
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        handler = _handler(self.accounts, self.upstream)
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
