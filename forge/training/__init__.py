"""Training: the Job (the one orchestrator), the worker process that runs it, the launcher that
starts workers (alone or under Accelerate), the queue that supervises them, the event log, and
the run's checkpoints.

Importing this package does not import torch or transformers; the worker does, when it runs.
"""

from .events import EventLog, read_all, read_events
from .queue import JobQueue, get_queue

__all__ = ["EventLog", "JobQueue", "get_queue", "read_all", "read_events"]
