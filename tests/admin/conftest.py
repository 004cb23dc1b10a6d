"""For the sign-in tests (signin/device, signin/oidc, console): the test IdP, once per
session, and an admin service with sign-in configured against it (see tests/support/signin.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from tests.conftest import MakeOrg
from tests.support.idp import Idp, run_idp
from tests.support.openapi import Spec
from tests.support.signin import SigninService, signin_service
from voltcore.config import Settings


@pytest.fixture(scope="session")
def idp() -> Iterator[Idp]:
    with run_idp() as provider:
        yield provider


@pytest_asyncio.fixture
async def signin(
    settings: Settings, idp: Idp, make_org: MakeOrg, spec: Spec
) -> AsyncIterator[SigninService]:
    async with signin_service(settings, idp, make_org, spec) as svc:
        yield svc
