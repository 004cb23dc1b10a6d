"""`client.usage.gpus`, `client.usage.racks` and `client.costs`: Forge GPU-seconds, Vault
rack-seconds and what they cost, in time buckets like `client.usage` (token usage)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, Unpack

from volt._call import Call, body
from volt._resource import M, Resource, endpoint, paginated
from volt.types.billing import (
    CostsPage,
    CostsParams,
    GpuUsagePage,
    GpuUsageParams,
    RackUsagePage,
    RackUsageParams,
)

T = TypeVar("T")


def bucket_call(path: str, page: type[T], start_time: int, params: Mapping[str, Any]) -> Call[T]:
    """The GET of one page of buckets: list parameters are sent repeated (an empty list is the
    same as none)."""
    query: dict[str, Any] = {"start_time": start_time}
    for name, value in params.items():
        is_list = isinstance(value, list | tuple)
        query[name] = (list(value) or None) if is_list else value
    return Call("GET", path, page, params=body(**query))


class GpuUsage(Resource[M]):
    @endpoint
    def retrieve(self, *, start_time: int, **params: Unpack[GpuUsageParams]) -> Call[GpuUsagePage]:
        """One page of Forge GPU-seconds in time buckets, oldest first.

        Usage: `client.usage.gpus.retrieve(start_time=t, group_by=["gpu_type"]).data`.
        """
        return bucket_call("/v1/usage/gpus", GpuUsagePage, start_time, params)

    @paginated
    def list(self, *, start_time: int, **params: Unpack[GpuUsageParams]) -> Call[GpuUsagePage]:
        """Like `retrieve`; iterating it yields every bucket of every page.

        Usage: `for bucket in client.usage.gpus.list(start_time=t, bucket_width="1h"): ...`.
        """
        return bucket_call("/v1/usage/gpus", GpuUsagePage, start_time, params)


class RackUsage(Resource[M]):
    @endpoint
    def retrieve(
        self, *, start_time: int, **params: Unpack[RackUsageParams]
    ) -> Call[RackUsagePage]:
        """One page of Vault rack-seconds in time buckets, oldest first.

        Usage: `client.usage.racks.retrieve(start_time=t, group_by=["rack_id"]).data`.
        """
        return bucket_call("/v1/usage/racks", RackUsagePage, start_time, params)

    @paginated
    def list(self, *, start_time: int, **params: Unpack[RackUsageParams]) -> Call[RackUsagePage]:
        """Like `retrieve`; iterating it yields every bucket of every page.

        Usage: `for bucket in client.usage.racks.list(start_time=t): ...`.
        """
        return bucket_call("/v1/usage/racks", RackUsagePage, start_time, params)


class Costs(Resource[M]):
    @endpoint
    def retrieve(self, *, start_time: int, **params: Unpack[CostsParams]) -> Call[CostsPage]:
        """One page of what Forge and Vault usage cost, at each lease's and rack's locked-in
        price, in time buckets, oldest first.

        Usage: `client.costs.retrieve(start_time=t, group_by=["line_item"]).data`.
        """
        return bucket_call("/v1/costs", CostsPage, start_time, params)

    @paginated
    def list(self, *, start_time: int, **params: Unpack[CostsParams]) -> Call[CostsPage]:
        """Like `retrieve`; iterating it yields every bucket of every page.

        Usage: `for bucket in client.costs.list(start_time=t): ...`.
        """
        return bucket_call("/v1/costs", CostsPage, start_time, params)
