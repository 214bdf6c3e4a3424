"""PSRP runspace pools and pipelines on top of psrpcore's server side.

One WSMan Shell is one :class:`Shell` (a psrpcore ``ServerRunspacePool`` plus the
lab :class:`~exchange_lab.registry.Session`); one WSMan Command is one pipeline,
run by ``engine.run_pipeline`` in a worker thread so a slow cmdlet never holds up
another request.  All psrpcore objects of a pool are touched under the pool's
lock; outgoing fragments are drained eagerly into per-target queues after every
psrpcore call, and Receive long-polls wait on the pool's condition variable.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
import uuid
from typing import Any, Callable

import psrpcore
from psrpcore._payload import PSRPMessage, create_message
from psrpcore.types import (
    PipelineState as PipelineStateMsg,
    ProgressRecordType,
    PSInvocationState,
    PSRPMessageType,
)

from .errors import PSError
from .psobj import to_clixml, to_wire
from .registry import Session

log = logging.getLogger(__name__)

CHUNK = 16384  # bytes of PSRP fragments drained per psrpcore call (< smallest budget served)
_TERMINAL = (PSInvocationState.Completed, PSInvocationState.Failed, PSInvocationState.Stopped)


class ShellError(Exception):
    """A WSMan-level failure (mapped to a SOAP fault by wsman.py)."""

    def __init__(self, subcode: str, code: int, message: str, sender: bool = True) -> None:
        super().__init__(message)
        self.subcode = subcode
        self.code = code
        self.message = message
        self.sender = sender


def invalid_selectors() -> ShellError:
    return ShellError(
        "w:InvalidSelectors",
        2150858843,
        "The WS-Management service cannot process the request because the request contained invalid selectors "
        "for the resource.",
    )


class _Sink:
    """The PipelineSink a running pipeline writes to (see registry.PipelineSink)."""

    def __init__(self, shell: "Shell", run: "PipelineRun") -> None:
        self._shell = shell
        self._run = run
        self._progress_id = 1

    @property
    def stopping(self) -> bool:
        return self._run.stop_requested.is_set()

    def _call(self, fn: Callable[[], Any]) -> None:
        if self.stopping:
            raise _Stopped()
        with self._shell.cond:
            if self._run.pipe.state != PSInvocationState.Running:
                raise _Stopped()
            fn()
            self._shell.drain()

    def write_output(self, obj: Any) -> None:
        # Serialise outside the pool lock: it is the costly part.  to_clixml writes the bytes
        # psrpcore would (see psobj); what it leaves to psrpcore goes the psrpcore way.
        data = to_clixml(obj)
        if data is not None:
            self._call(lambda: queue_output(self._run.pipe, data))
        else:
            wire = to_wire(obj)
            self._call(lambda: self._run.pipe.write_output(wire))

    def write_error(self, err: PSError) -> None:
        rec = err.to_error_record()
        self._call(
            lambda: self._run.pipe.write_error(
                exception=rec.Exception,
                category_info=rec.CategoryInfo,
                target_object=rec.TargetObject,
                fully_qualified_error_id=rec.FullyQualifiedErrorId,
            )
        )

    def write_warning(self, message: str) -> None:
        self._call(lambda: self._run.pipe.write_warning(message))

    def write_verbose(self, message: str) -> None:
        self._call(lambda: self._run.pipe.write_verbose(message))

    def write_progress(self, activity: str, status: str, percent: int = -1) -> None:
        self._call(
            lambda: self._run.pipe.write_progress(
                activity,
                self._progress_id,
                status,
                percent_complete=percent,
                record_type=ProgressRecordType.Processing,
            )
        )


def queue_output(pipe: psrpcore.ServerPipeline, data: bytes) -> None:
    """``pipe.write_output(value)`` for a value already serialised to CLIXML (``data``).

    The rest of psrpcore 0.3.1's ``RunspacePool.prepare_message`` (the pinned version): the
    PSRP message header around ``data``, queued with the next fragment object id.  The caller
    holds the pool lock and has checked the pipeline is Running (``_Sink._call``).
    lab/tests/test_serialisation.py checks the queued message matches psrpcore's own.
    """
    pool = pipe.runspace_pool
    message = create_message(
        pool._is_client, PSRPMessageType.PipelineOutput, data, pool.runspace_pool_id, pipe.pipeline_id
    )
    pool._send_buffer.append(
        PSRPMessage(
            PSRPMessageType.PipelineOutput,
            bytearray(message),
            pool.runspace_pool_id,
            pipe.pipeline_id,
            pool._fragment_counter,
            psrpcore.StreamType.default,
        )
    )


class _Stopped(Exception):
    """Raised inside a worker when the client stopped or terminated the pipeline."""


class PipelineRun:
    def __init__(self, pipe: psrpcore.ServerPipeline) -> None:
        self.pipe = pipe
        self.commands: list[Any] | None = None
        self.no_input = True
        self.input: list[Any] = []
        self.thread: threading.Thread | None = None
        self.stop_requested = threading.Event()


class Shell:
    """One runspace pool."""

    def __init__(self, shell_id: str, session: Session, resource_uri: str) -> None:
        self.id = shell_id
        self.resource_uri = resource_uri
        self.session = session
        self.pool = psrpcore.ServerRunspacePool()
        self.cond = threading.Condition(threading.Lock())
        self.queues: dict[uuid.UUID | None, collections.deque[bytes]] = collections.defaultdict(collections.deque)
        self.runs: dict[uuid.UUID, PipelineRun] = {}
        self.created = time.time()
        self.closed = False

    # -- psrpcore plumbing (call with self.cond held) ---------------------------------
    def drain(self) -> None:
        while (payload := self.pool.data_to_send(CHUNK)) is not None:
            self.queues[payload.pipeline_id].append(payload.data)
        self.cond.notify_all()

    def feed(self, data: bytes, pipeline_id: uuid.UUID | None, stream: str = "stdin") -> None:
        """Feed client fragments (Create/Command/Send) and act on the events."""
        # pypsrp writes the call id of SET_MAX/MIN_RUNSPACES as "CI"; psrpcore reads "ci".
        data = data.replace(b'<I64 N="CI">', b'<I64 N="ci">')
        stype = psrpcore.StreamType.prompt_response if stream == "pr" else psrpcore.StreamType.default
        to_start: list[PipelineRun] = []
        with self.cond:
            if pipeline_id is not None and pipeline_id not in self.pool.pipeline_table:
                old = self.runs.get(pipeline_id)
                if old is not None:  # same CommandId reused after a finished invocation
                    self._forget(pipeline_id)
                self.runs[pipeline_id] = PipelineRun(psrpcore.ServerPipeline(self.pool, pipeline_id))
            self.pool.receive_data(psrpcore.PSRPPayload(data, stype, pipeline_id))
            while (event := self.pool.next_event()) is not None:
                run = self._on_event(event)
                if run is not None:
                    to_start.append(run)
            self.drain()
        for run in to_start:
            self._start(run)

    def _on_event(self, event: Any) -> PipelineRun | None:
        if isinstance(event, psrpcore.CreatePipelineEvent):
            run = self.runs[event.pipeline_id]
            ps = event.pipeline
            run.commands = list(ps.commands)
            run.no_input = bool(ps.no_input)
            return run if run.no_input else None
        if isinstance(event, psrpcore.PipelineInputEvent):
            self.runs[event.pipeline_id].input.append(event.data)
            return None
        if isinstance(event, psrpcore.EndOfPipelineInputEvent):
            return self.runs[event.pipeline_id]
        if isinstance(event, psrpcore.GetAvailableRunspacesEvent):
            self.pool.runspace_availability_response(event.ci, max(1, self.pool.max_runspaces))
        elif isinstance(
            event, (psrpcore.SetMaxRunspacesEvent, psrpcore.SetMinRunspacesEvent, psrpcore.ResetRunspaceStateEvent)
        ):
            self.pool.runspace_availability_response(event.ci, True)
        return None

    # -- pipelines --------------------------------------------------------------------
    def _start(self, run: PipelineRun) -> None:
        with self.cond:
            # Set Running directly: psrpcore's start() queues a Running state message
            # that real servers never send (it would cost the client a round trip).
            run.pipe.state = PSInvocationState.Running
        run.thread = threading.Thread(target=self._work, args=(run,), daemon=True, name=f"pipeline-{run.pipe.pipeline_id}")
        run.thread.start()

    def _work(self, run: PipelineRun) -> None:
        sink = _Sink(self, run)
        failure: PSError | None = None
        try:
            from .engine import run_pipeline  # late import: engine imports the cmdlets

            run_pipeline(self.session, run.commands or [], run.input, sink)
        except _Stopped:
            return
        except PSError as exc:
            failure = exc
        except Exception as exc:  # a lab bug: fail the pipeline rather than hang the client
            log.exception("pipeline crashed")
            failure = PSError(
                message=f"The lab failed while running the command: {type(exc).__name__}: {exc}",
                fqid="LabInternalError",
                category=7,
                exception_types=["System.InvalidOperationException", "System.SystemException", "System.Exception"],
            )
        with self.cond:
            if run.pipe.state != PSInvocationState.Running:
                return
            if failure is None:
                run.pipe.complete()
            else:
                run.pipe.prepare_message(
                    PipelineStateMsg(PipelineState=PSInvocationState.Failed, ExceptionAsErrorRecord=failure.to_error_record())
                )
                run.pipe.state = PSInvocationState.Failed
            self.drain()

    def signal(self, pipeline_id: uuid.UUID, code: str) -> None:
        with self.cond:
            run = self.runs.get(pipeline_id)
            if run is None:
                return
            if code.endswith("ctrl_c"):
                run.stop_requested.set()
                if run.pipe.state in (PSInvocationState.Running, PSInvocationState.Stopping):
                    run.pipe.stop()
                self.drain()
            else:  # Terminate
                run.stop_requested.set()
                if run.pipe.state in (PSInvocationState.Running, PSInvocationState.Stopping):
                    run.pipe.stop()
                self._forget(pipeline_id)
                self.cond.notify_all()

    def _forget(self, pipeline_id: uuid.UUID) -> None:
        run = self.runs.pop(pipeline_id, None)
        if run is not None:
            if run.pipe.state not in _TERMINAL and run.pipe.state != PSInvocationState.NotStarted:
                run.pipe.state = PSInvocationState.Stopped
            if run.pipe.state in _TERMINAL:
                run.pipe.close()
            else:
                self.pool.pipeline_table.pop(pipeline_id, None)
        self.queues.pop(pipeline_id, None)

    def receive(self, pipeline_id: uuid.UUID | None, budget: int, timeout: float) -> tuple[list[bytes], bool]:
        """Take whole queued chunks up to ``budget`` bytes; wait up to ``timeout``.

        Returns (chunks, done).  ``done`` is True for a pipeline whose state is terminal
        and whose queue is now empty.  Raises TimeoutError when nothing came in time.
        """
        deadline = time.monotonic() + timeout
        with self.cond:
            if pipeline_id is not None and pipeline_id not in self.runs:
                raise invalid_selectors()
            while True:
                q = self.queues.get(pipeline_id)
                if q:
                    out: list[bytes] = []
                    size = 0
                    while q and (not out or size + len(q[0]) <= budget):
                        chunk = q.popleft()
                        out.append(chunk)
                        size += len(chunk)
                    done = False
                    if pipeline_id is not None and not q:
                        run = self.runs.get(pipeline_id)
                        done = run is not None and run.pipe.state in _TERMINAL
                    return out, done
                if self.closed or (pipeline_id is not None and pipeline_id not in self.runs):
                    raise invalid_selectors()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError()
                self.cond.wait(left)

    def close(self) -> None:
        with self.cond:
            for pid in list(self.runs):
                run = self.runs[pid]
                run.stop_requested.set()
                if run.pipe.state in (PSInvocationState.Running, PSInvocationState.Stopping):
                    run.pipe.stop()
                self._forget(pid)
            try:
                self.pool.close()
            except psrpcore.PSRPCoreError:
                pass
            self.closed = True
            self.queues.clear()
            self.cond.notify_all()
