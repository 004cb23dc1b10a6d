"""`volt files ...`: upload, list, show, download and delete files (training data for
`volt finetune`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from volt._client import Volt
from volt.cli._output import Column, Output, when

Subparsers = Any

FILE_COLUMNS: list[Column] = [
    ("ID", lambda f: f.id),
    ("FILENAME", lambda f: f.filename),
    ("BYTES", lambda f: f.bytes),
    ("PURPOSE", lambda f: f.purpose),
    ("STATUS", lambda f: f.status),
    ("CREATED", lambda f: when(f.created_at)),
    ("EXPIRES", lambda f: when(f.expires_at)),
]


def read_local(path: Path, out: Output) -> bytes | None:
    """The bytes of a file to upload, or None once the reason it cannot be read is reported."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        out.note(f"error: no such file: {path}")
    except IsADirectoryError:
        out.note(f"error: {path} is a directory, not a file")
    except OSError as e:
        out.note(f"error: cannot read {path}: {e.strerror}")
    return None


def upload(client: Volt, args: argparse.Namespace, out: Output) -> int:
    path = Path(args.path)
    content = read_local(path, out)
    if content is None:
        return 1
    made = client.files.create(
        file=content, purpose=args.purpose, filename=args.filename or path.name
    )
    out.item(made, FILE_COLUMNS)
    return 0


def list_files(client: Volt, args: argparse.Namespace, out: Output) -> int:
    out.items(client.files.list(purpose=args.purpose, limit=100), FILE_COLUMNS)
    return 0


def get(client: Volt, args: argparse.Namespace, out: Output) -> int:
    out.item(client.files.retrieve(args.file_id), FILE_COLUMNS)
    return 0


def content(client: Volt, args: argparse.Namespace, out: Output) -> int:
    # The bytes as uploaded, whatever `--json` says: they are the file, not an API object.
    data = client.files.content(args.file_id)
    if args.output is None:
        out.raw(data)
        return 0
    try:
        Path(args.output).write_bytes(data)
    except OSError as e:
        out.note(f"error: cannot write {args.output}: {e.strerror}")
        return 1
    out.note(f"{len(data)} bytes written to {args.output}")
    return 0


def delete(client: Volt, args: argparse.Namespace, out: Output) -> int:
    deleted = client.files.delete(args.file_id)
    out.item(deleted, [("ID", lambda d: d.id), ("DELETED", lambda d: d.deleted)])
    return 0


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    files = sub.add_parser("files", help="uploaded files (training data)").add_subparsers(
        required=True
    )
    p = files.add_parser("upload", parents=[common], help="upload a file")
    p.add_argument("path")
    p.add_argument("--purpose", default="fine-tune", help="default: fine-tune")
    p.add_argument("--filename", help="the name to store (default: the file's own)")
    p.set_defaults(run=upload)
    p = files.add_parser("list", parents=[common], help="your files, newest first")
    p.add_argument("--purpose")
    p.set_defaults(run=list_files)
    p = files.add_parser("get", parents=[common], help="one file's details")
    p.add_argument("file_id")
    p.set_defaults(run=get)
    p = files.add_parser("content", parents=[common], help="a file's bytes, as uploaded")
    p.add_argument("file_id")
    p.add_argument("-o", "--output", help="write them to this file instead of stdout")
    p.set_defaults(run=content)
    p = files.add_parser("delete", parents=[common], help="delete a file")
    p.add_argument("file_id")
    p.set_defaults(run=delete)
