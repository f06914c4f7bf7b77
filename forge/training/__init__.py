"""Training: the Job (the one orchestrator), its event log, the callback, and the queue.

Importing this package does not import torch or transformers; the Job does, when it runs.
"""

from .events import EventLog, read_all, read_events
from .queue import JobQueue, get_queue

__all__ = ["EventLog", "JobQueue", "get_queue", "read_all", "read_events"]
