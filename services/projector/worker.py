"""The projector's faust worker: faust's own, ending the process when a StopWorker left the
event loop (``services.projector.stopping``)."""
from __future__ import annotations

from faust.worker import Worker

from services.projector.stopping import StopWorker, end_process


class ProjectorWorker(Worker):
    """faust's worker; when the loop ended on a StopWorker, the process ends with its status
    before faust starts its orderly shutdown."""

    def on_worker_shutdown(self) -> None:
        if StopWorker.first is not None:
            end_process(StopWorker.first)
        super().on_worker_shutdown()
