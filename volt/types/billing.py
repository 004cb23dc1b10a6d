"""Billing beyond tokens: Forge GPU-seconds, Vault rack-seconds and their costs, in the same
time buckets as token usage (`volt.types.tenancy.UsagePage`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, Literal, TypedDict, TypeVar

from volt.types.common import VoltModel
from volt.types.tenancy import UsageWidth

R = TypeVar("R")
GpuUsageGroup = Literal["gpu_type", "gpu_count", "metro", "lease_id"]
RackUsageGroup = Literal["rack_type", "metro", "rack_id"]
CostsGroup = Literal["product", "line_item"]


class Bucket(VoltModel, Generic[R]):
    object: Literal["bucket"]
    start_time: int
    end_time: int
    results: list[R]


class BucketPage(VoltModel, Generic[R]):
    """Buckets, oldest first; pass `next_page` as `page` for more."""

    object: Literal["page"]
    data: list[Bucket[R]]
    has_more: bool
    next_page: str | None

    def next_params(self) -> dict[str, str] | None:
        return {"page": self.next_page} if self.has_more and self.next_page else None


class GpuUsageResult(VoltModel):
    """GPU-seconds in a bucket; the grouped fields are set, the others None."""

    object: Literal["usage.gpus.result"]
    gpu_seconds: int
    num_leases: int
    gpu_type: str | None
    gpu_count: int | None
    metro: str | None
    lease_id: str | None


class RackUsageResult(VoltModel):
    """Rack-seconds in a bucket; the grouped fields are set, the others None."""

    object: Literal["usage.racks.result"]
    rack_seconds: int
    num_racks: int
    rack_type: str | None
    metro: str | None
    rack_id: str | None


class CostAmount(VoltModel):
    value: float
    currency: str


class CostsResult(VoltModel):
    """What a bucket cost; `line_item` is `forge/<gpu_type>` or `vault/<rack_type>`."""

    object: Literal["costs.result"]
    amount: CostAmount
    line_item: str | None
    product: Literal["forge", "vault"] | None


GpuUsagePage = BucketPage[GpuUsageResult]
RackUsagePage = BucketPage[RackUsageResult]
CostsPage = BucketPage[CostsResult]


class WindowParams(TypedDict, total=False):
    """The time range and paging every usage and costs method takes (besides start_time)."""

    end_time: int | None
    bucket_width: UsageWidth | None
    limit: int | None
    page: str | None


class GpuUsageParams(WindowParams, total=False):
    """The optional parameters of `client.usage.gpus.retrieve` and `.list`."""

    group_by: Sequence[GpuUsageGroup] | None
    gpu_types: Sequence[str] | None
    lease_ids: Sequence[str] | None


class RackUsageParams(WindowParams, total=False):
    """The optional parameters of `client.usage.racks.retrieve` and `.list`."""

    group_by: Sequence[RackUsageGroup] | None
    rack_types: Sequence[str] | None
    rack_ids: Sequence[str] | None


class CostsParams(WindowParams, total=False):
    """The optional parameters of `client.costs.retrieve` and `.list`."""

    group_by: Sequence[CostsGroup] | None
