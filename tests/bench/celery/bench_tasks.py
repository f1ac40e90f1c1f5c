"""Celery application for the updraft comparison benchmark (scenario 7).

Broker and result backend are the same Redis, given in CELERY_BENCH_URL.
Tasks go to their own queue so the benchmark never touches anything else
that lives in that Redis. See README.md next to this file.
"""

import os
import time

from celery import Celery

URL = os.environ.get("CELERY_BENCH_URL", "redis://127.0.0.1:6379/0")
QUEUE = os.environ.get("CELERY_BENCH_QUEUE", "updraft-bench-celery")

app = Celery("bench_tasks", broker=URL, backend=URL)
app.conf.update(
    task_default_queue=QUEUE,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    # Stock defaults otherwise: acks on receipt, prefetch multiplier 4,
    # results stored for every task, no task events.
    broker_connection_retry_on_startup=True,
)


@app.task(name="bench.noop")
def noop():
    """Does nothing; its (None) result is still stored in the backend."""
    return None


@app.task(name="bench.stamp")
def stamp():
    """No work either; returns wall-clock start and end of its body so the
    driver can compute hop latency (next start - previous end)."""
    start = time.time()
    return [start, time.time()]
