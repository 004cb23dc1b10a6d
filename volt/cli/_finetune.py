"""`volt finetune ...`: upload training data, run LoRA fine-tuning jobs, read their events."""

from __future__ import annotations

import argparse
import typing
from pathlib import Path
from typing import Any

from volt._client import Volt
from volt._constants import DEFAULT_JOB_WAIT_TIMEOUT_S
from volt.cli._output import Column, Output, timeout_options, wait_and_show, when
from volt.types.finetuning import FineTuningJob, FineTuningJobStatus, HyperparametersParam

Subparsers = Any

JOB_COLUMNS: list[Column] = [
    ("ID", lambda j: j.id),
    ("STATUS", lambda j: j.status),
    ("MODEL", lambda j: j.model),
    ("FINE-TUNED MODEL", lambda j: j.fine_tuned_model),
    ("CREATED", lambda j: when(j.created_at)),
    ("FINISHED", lambda j: when(j.finished_at)),
    ("ERROR", lambda j: j.error.message if j.error else None),
]


def create(client: Volt, args: argparse.Namespace, out: Output) -> int:
    training_file = args.training_file
    if Path(training_file).is_file():
        uploaded = client.files.create(file=Path(training_file))
        out.note(f"Uploaded {training_file} as {uploaded.id} ({uploaded.bytes} bytes)")
        training_file = uploaded.id
    hyperparameters: HyperparametersParam = {}
    if args.epochs is not None:
        hyperparameters["n_epochs"] = args.epochs
    job: FineTuningJob = client.fine_tuning.jobs.create(
        model=args.model,
        training_file=training_file,
        suffix=args.suffix,
        hyperparameters=hyperparameters or None,
        idempotency_key=args.idempotency_key,
    )
    if not args.wait:
        out.item(job, JOB_COLUMNS)
        return 0
    return _wait(client, job, None, args, out)


def wait(client: Volt, args: argparse.Namespace, out: Output) -> int:
    return _wait(client, client.fine_tuning.jobs.retrieve(args.job_id), args.until, args, out)


def _wait(
    client: Volt,
    job: FineTuningJob,
    until: FineTuningJobStatus | None,
    args: argparse.Namespace,
    out: Output,
) -> int:
    """Until the job ends (or is `until`); exit 1 unless it succeeded (or is `until`)."""
    wait = client.fine_tuning.jobs.wait
    return wait_and_show(job, wait, until, args, out, JOB_COLUMNS, success="succeeded")


def list_jobs(client: Volt, args: argparse.Namespace, out: Output) -> int:
    out.items(client.fine_tuning.jobs.list(limit=100), JOB_COLUMNS)
    return 0


def get(client: Volt, args: argparse.Namespace, out: Output) -> int:
    out.item(client.fine_tuning.jobs.retrieve(args.job_id), JOB_COLUMNS)
    return 0


def cancel(client: Volt, args: argparse.Namespace, out: Output) -> int:
    out.item(client.fine_tuning.jobs.cancel(args.job_id), JOB_COLUMNS)
    return 0


def events(client: Volt, args: argparse.Namespace, out: Output) -> int:
    # The API lists newest first; a log reads oldest first.
    found = list(client.fine_tuning.jobs.list_events(args.job_id, limit=100))
    found.reverse()
    out.items(
        found,
        [
            ("TIME", lambda e: when(e.created_at)),
            ("LEVEL", lambda e: e.level),
            ("MESSAGE", lambda e: e.message),
        ],
    )
    return 0


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    ft = sub.add_parser("finetune", help="LoRA fine-tuning jobs").add_subparsers(required=True)
    p = ft.add_parser("create", parents=[common], help="start a job")
    p.add_argument("--model", required=True, help="the base chat model")
    p.add_argument(
        "--training-file", required=True, help="a chat JSONL file to upload, or a file id"
    )
    p.add_argument("--suffix")
    p.add_argument("--epochs", type=int)
    p.add_argument("--idempotency-key")
    p.add_argument("--wait", action="store_true", help="wait until the job ends")
    timeout_options(p, DEFAULT_JOB_WAIT_TIMEOUT_S)
    p.set_defaults(run=create)
    p = ft.add_parser("list", parents=[common], help="your jobs, newest first")
    p.set_defaults(run=list_jobs)
    p = ft.add_parser("get", parents=[common], help="one job")
    p.add_argument("job_id")
    p.set_defaults(run=get)
    p = ft.add_parser("wait", parents=[common], help="wait until a job ends")
    p.add_argument("job_id")
    p.add_argument(
        "--until", choices=typing.get_args(FineTuningJobStatus), help="or reaches this status"
    )
    timeout_options(p, DEFAULT_JOB_WAIT_TIMEOUT_S)
    p.set_defaults(run=wait)
    p = ft.add_parser("cancel", parents=[common], help="cancel a job")
    p.add_argument("job_id")
    p.set_defaults(run=cancel)
    p = ft.add_parser("events", parents=[common], help="a job's log, oldest first")
    p.add_argument("job_id")
    p.set_defaults(run=events)
