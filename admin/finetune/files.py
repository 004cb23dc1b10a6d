"""The Files API (`/v1/files`): multipart uploads of chat JSONL, checked line by line as they
stream in, stored in the artifact store; list, retrieve, delete."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import BinaryIO, Literal
from urllib.parse import quote

from aiohttp import BodyPartReader, web

from admin.finetune.appkeys import FINETUNE_SETTINGS
from admin.finetune.views import file_object
from finetune import artifacts, store
from finetune.config import FinetuneSettings
from finetune.dataset import DatasetError, LineValidator
from finetune.store import File
from voltcore.appkeys import POOL, PRINCIPAL, SETTINGS
from voltcore.errors import Conflict, InvalidRequest, NotFound, PayloadTooLarge
from voltcore.http import json_response, response_headers
from voltcore.pagination import ListParams, list_response
from voltcore.streaming import ReadingStream
from voltcore.validation import parse_query

routes = web.RouteTableDef()
PURPOSES = ("fine-tune",)
_CHUNK = 1 << 16
# Every stored file is chat JSONL that passed validation.
CONTENT_TYPE = "application/jsonl"


class FileListParams(ListParams):
    purpose: Literal["fine-tune"] | None = None


async def _small_field(part: BodyPartReader, name: str) -> str:
    data = await part.read_chunk(256)
    if not part.at_eof():
        raise InvalidRequest(f"'{name}' is too long.", param=name, code="invalid_value")
    return data.decode(errors="replace")


def _filename(part: BodyPartReader) -> str:
    # Only the last path component, as browsers send it; it is metadata, never a path here.
    name = Path(part.filename or "file.jsonl").name
    return name[:255] or "file.jsonl"


def _storage_full(limit: int) -> Conflict:
    return Conflict(
        f"Your organization's files would exceed its storage limit of {limit} bytes "
        "(max_org_file_bytes); delete files you no longer need.",
        param="file",
        code="file_storage_limit_exceeded",
    )


def _check_quota(limits: FinetuneSettings, files: int, used: int, size: int) -> None:
    """409 naming the limit when one more file of `size` bytes would pass either org limit."""
    if files >= limits.max_org_files:
        raise Conflict(
            f"Your organization already stores {files} files, the limit (max_org_files is "
            f"{limits.max_org_files}); delete files you no longer need.",
            param="file",
            code="file_count_limit_exceeded",
        )
    if used + size > limits.max_org_file_bytes:
        raise _storage_full(limits.max_org_file_bytes)


async def _receive(
    part: BodyPartReader, tmp: Path, limit: int, room: int, org_limit: int
) -> tuple[int, int, str]:
    """Stream the file part to `tmp`, checking each line; returns (bytes, examples, sha256).
    Stops as soon as the file passes `limit` (413) or the org's free storage `room` (409), so
    a tenant cannot park more than its share on the disk even while the upload runs."""
    validator, digest, size = LineValidator(), hashlib.sha256(), 0
    out: BinaryIO = await asyncio.to_thread(tmp.open, "wb")
    try:
        while chunk := await part.read_chunk(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(
                    f"The file is larger than the limit of {limit} bytes.", param="file"
                )
            if size > room:
                raise _storage_full(org_limit)
            validator.feed(chunk)
            digest.update(chunk)
            await asyncio.to_thread(out.write, chunk)
        validator.close()
    except DatasetError as err:
        raise InvalidRequest(
            f"Invalid fine-tuning data at line {err.line}: {err.reason}. Each line must be a "
            'JSON object like {"messages": [{"role": "user", "content": "..."}, '
            '{"role": "assistant", "content": "..."}]}.',
            param="file",
            code="invalid_file_format",
        ) from None
    finally:
        await asyncio.to_thread(out.close)
    return size, validator.examples, digest.hexdigest()


@routes.post("/v1/files")
async def create_file(request: web.Request) -> web.Response:
    """Usage: `curl -F purpose=fine-tune -F file=@train.jsonl $VOLT/v1/files`."""
    if request.content_type != "multipart/form-data":
        raise InvalidRequest(
            "Upload files as multipart/form-data with the fields 'file' and 'purpose'.",
            code="invalid_content_type",
        )
    org = request[PRINCIPAL].org_id
    root = request.app[SETTINGS].artifacts
    limits = request.app[FINETUNE_SETTINGS]
    pool = request.app[POOL]
    # Refused before a byte is stored when the org is already at a limit; checked again under
    # the org's lock when the row goes in (concurrent uploads).
    files, used = await store.file_usage(pool, org)
    _check_quota(limits, files, used, 0)
    room = limits.max_org_file_bytes - used
    file_id = store.new_file_id()
    key = artifacts.file_key(org, file_id)
    tmp = artifacts.staging(root, key)
    purpose: str | None = None
    received: tuple[int, int, str] | None = None
    filename = ""
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise InvalidRequest("Nested multipart bodies are not supported.", param="file")
            if part.name == "purpose":
                purpose = await _small_field(part, "purpose")
            elif part.name == "file" and received is None:
                filename = _filename(part)
                received = await _receive(
                    part, tmp, limits.max_file_bytes, room, limits.max_org_file_bytes
                )
            else:
                name = part.name or "(unnamed)"
                raise InvalidRequest(
                    f"Unrecognized request argument supplied: {name}",
                    param=name,
                    code="unknown_parameter",
                )
        if purpose is None:
            raise InvalidRequest(
                "Missing required parameter: 'purpose'.",
                param="purpose",
                code="missing_required_parameter",
            )
        if purpose not in PURPOSES:
            raise InvalidRequest(
                f"Invalid value for 'purpose': only {', '.join(PURPOSES)} is supported.",
                param="purpose",
                code="invalid_value",
            )
        if received is None:
            raise InvalidRequest(
                "Missing required parameter: 'file'.",
                param="file",
                code="missing_required_parameter",
            )
        size, examples, sha256 = received
        async with pool.acquire() as conn, conn.transaction():
            await store.lock_org(conn, "files", org)
            _check_quota(limits, *await store.file_usage(conn, org), size)
            await asyncio.to_thread(artifacts.publish, root, tmp, key)
            row = await store.insert_file(
                conn,
                org,
                file_id,
                filename=filename,
                size=size,
                examples=examples,
                sha256=sha256,
            )
    except BaseException:
        await asyncio.to_thread(artifacts.remove, tmp)
        if received is not None:
            await asyncio.to_thread(artifacts.remove, root / key)
        raise
    return json_response(file_object(row))


@routes.get("/v1/files")
async def list_files(request: web.Request) -> web.Response:
    params = parse_query(request, FileListParams)
    return await list_response(
        request,
        "ft_files",
        params,
        row=File.from_record,
        render=lambda rows: [file_object(r) for r in rows],
        where="$5::text IS NULL OR purpose = $5",
        args=(params.purpose,),
    )


@routes.get("/v1/files/{file_id}")
async def get_file(request: web.Request) -> web.Response:
    row = await store.get_file(
        request.app[POOL], request[PRINCIPAL].org_id, request.match_info["file_id"]
    )
    return json_response(file_object(row))


def _disposition(filename: str) -> str:
    # An ASCII fallback without quotes or backslashes, and the exact name per RFC 6266.
    plain = "".join(c if " " <= c < "\x7f" and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename)}"


@routes.get("/v1/files/{file_id}/content")
async def file_content(request: web.Request) -> web.StreamResponse:
    """The file's bytes as uploaded, streamed from the artifact store.

    Usage: `curl $VOLT/v1/files/file-.../content -o train.jsonl`.
    """
    org, file_id = request[PRINCIPAL].org_id, request.match_info["file_id"]
    row = await store.get_file(request.app[POOL], org, file_id)
    path = request.app[SETTINGS].artifacts / artifacts.file_key(org, file_id)
    try:
        # Once open, a concurrent delete cannot cut the download short.
        src: BinaryIO = await asyncio.to_thread(path.open, "rb")
    except FileNotFoundError:  # deleted since the lookup
        raise NotFound(f"No such file: '{file_id}'.", param="file_id") from None
    try:
        size = (await asyncio.to_thread(os.fstat, src.fileno())).st_size
        response = ReadingStream(
            request,
            headers={
                **response_headers(request),
                "Content-Disposition": _disposition(row.filename),
            },
        )
        response.content_type = CONTENT_TYPE
        response.content_length = size
        await response.prepare(request)
        while chunk := await asyncio.to_thread(src.read, _CHUNK):
            await response.write(chunk)
        await response.write_eof()
    finally:
        await asyncio.to_thread(src.close)
    return response


@routes.delete("/v1/files/{file_id}")
async def delete_file(request: web.Request) -> web.Response:
    org, file_id = request[PRINCIPAL].org_id, request.match_info["file_id"]
    async with request.app[POOL].acquire() as conn, conn.transaction():
        # Serialised with job creation, which holds the file FOR SHARE while it inserts a job.
        await store.get_file(conn, org, file_id, lock="FOR UPDATE")
        if await store.file_in_use(conn, org, file_id):
            raise Conflict(
                f"File '{file_id}' is used by a fine-tuning job that has not finished; "
                "cancel the job or wait for it to end.",
                param="file_id",
                code="file_in_use",
            )
        await store.delete_file(conn, org, file_id)
    root = request.app[SETTINGS].artifacts
    await asyncio.to_thread(artifacts.remove, root / artifacts.file_key(org, file_id))
    return json_response({"id": file_id, "object": "file", "deleted": True})
