"""Worker bootstrap: the warm template process and the workers forked from it.

``python -m fastshare._worker --fd N`` is the *template* (zygote) process of a
:class:`fastshare.pool.RenderPool`. It is started with ``subprocess`` (never by forking the
orchestrator, which is multi-threaded), receives its configuration on the control socket ``N``,
then warms up once:

1. restores the orchestrator's ``sys.path`` and imports its main module as ``__mp_main__``
   (as ``multiprocessing`` does for spawn), so functions defined in a script can be pickled;
2. imports the ``preload`` modules;
3. runs the warm-up hook (:func:`warm_up` by default: imports every ``fastshare.kernels`` module,
   calls the ``warm_up()`` functions that ``fastshare.paint`` / ``fastshare.text`` /
   ``fastshare.encoders`` provide, and paints and encodes one card so numba's on-disk cache is
   loaded), then the user's initializer;
4. freezes the garbage collector's view of everything loaded (copy-on-write stays shared).

It stays single-threaded (``NUMBA_NUM_THREADS=1`` and the BLAS thread variables are set in its
environment before numpy or numba are imported) and then only forks: each request on the control
socket carries a fresh socket (SCM_RIGHTS) and becomes a worker, which inherits the warm state,
runs the per-worker initializer and serves tasks one at a time on that socket. The template
reaps its children and reports their exit status. A worker dies with its template
(``PR_SET_PDEATHSIG``); the template kills its workers and exits when the orchestrator goes away
(end of file on the control socket).
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import gc
import importlib
import os
import pickle
import pkgutil
import select
import signal
import socket
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any, NoReturn

import numpy as np

from fastshare.pool import _task, _wire
from fastshare.pool._shm import attach

__all__ = ["TEMPLATE_ENV", "main", "warm_up"]

#: set in the template process and its workers; creating a pool there is refused
TEMPLATE_ENV = "FASTSHARE_TEMPLATE_PROCESS"

#: modules whose ``warm_up()`` function the default warm-up calls when they exist
WARM_UP_MODULES = ("fastshare.paint", "fastshare.gradients", "fastshare.text", "fastshare.encoders")


# --------------------------------------------------------------------------- default warm-up


def _import_optional(name: str, report: dict[str, Any]) -> Any | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (exc.name == name or name.startswith(exc.name + ".")):
            return None  # the module does not exist (yet): nothing to warm
        report["errors"].append(f"import {name}: {exc!r}")
    except Exception as exc:
        report["errors"].append(f"import {name}: {exc!r}")
    return None


def warm_up(width: int = 1200, height: int = 630) -> dict[str, Any]:
    """Load everything a render needs, once, in the template process.

    Imports every ``fastshare.kernels`` module, calls ``warm_up()`` on the modules that provide
    one (compiling or cache-loading their kernels, loading fonts), then paints and encodes one
    ``width``×``height`` card. Returns a report: modules imported, hooks called, seconds taken,
    and the errors met (a module that does not exist yet is not an error).
    """
    start = time.perf_counter()
    report: dict[str, Any] = {"kernels": [], "hooks": [], "errors": []}
    kernels = _import_optional("fastshare.kernels", report)
    if kernels is not None:
        for info in pkgutil.iter_modules(kernels.__path__, "fastshare.kernels."):
            if _import_optional(info.name, report) is not None:
                report["kernels"].append(info.name)
    for name in WARM_UP_MODULES:
        module = _import_optional(name, report)
        hook = getattr(module, "warm_up", None) if module is not None else None
        if callable(hook):
            try:
                hook()
                report["hooks"].append(name)
            except Exception as exc:
                report["errors"].append(f"{name}.warm_up(): {exc!r}")
    from fastshare.pipeline import encode_frame
    from fastshare.pool._demo import demo_card

    frame = demo_card(width, height)
    report["warm_up_png_bytes"] = len(encode_frame(frame, "png"))
    report["seconds"] = time.perf_counter() - start
    return report


# --------------------------------------------------------------------------- worker


def _set_parent_death_signal() -> None:
    """Ask Linux to SIGKILL this process when its parent (the template) dies."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class _Worker:
    """One worker's loop: receive a task, run it, reply; one task at a time."""

    def __init__(self, sock: socket.socket, index: int, flag: _task.ExitFlag) -> None:
        self.sock = sock
        self.index = index
        self.flag = flag
        self.rings: dict[str, tuple[Any, np.ndarray[Any, Any]]] = {}

    def _slot(self, spec: tuple[str, int, int, int]) -> np.ndarray[Any, Any]:
        name, total, slot, slot_bytes = spec
        entry = self.rings.get(name)
        if entry is None:
            mapping = attach(name, total)
            entry = (mapping, np.frombuffer(mapping, dtype=np.uint8))
            self.rings[name] = entry
        return entry[1][slot * slot_bytes : (slot + 1) * slot_bytes]

    def _deliver_frame(self, result: Any, slot: np.ndarray[Any, Any]) -> tuple[str, Any]:
        if not isinstance(result, np.ndarray):
            to_array = getattr(result, "__array_interface__", None)
            if to_array is None:
                kind = type(result).__name__
                msg = f"a pixels task must return an ndarray or PIL image, got {kind}"
                raise TypeError(msg)
            result = np.asarray(result)
        arr = np.ascontiguousarray(result)
        if arr.nbytes <= slot.size:
            dst = slot[: arr.nbytes]
            if not np.shares_memory(dst, arr):
                dst[:] = arr.reshape(-1).view(np.uint8)
            return _wire.FRAME, (arr.shape, arr.dtype.str)
        # too big for a slot: fall back to pickling the array
        return _wire.OK, pickle.dumps(arr, protocol=5)

    def run_task(self, msg: tuple[Any, ...]) -> tuple[Any, ...]:
        _, task_id, attempt, slot_spec, payload = msg
        start = time.monotonic()
        slot = self._slot(slot_spec) if slot_spec is not None else None
        ctx = _task.TaskContext(task_id, attempt, self.flag, slot)
        _task.set_current(ctx)
        kind: str
        body: Any
        try:
            fn, args, kwargs = pickle.loads(payload)
            result = fn(*args, **kwargs)
            if slot is not None:
                kind, body = self._deliver_frame(result, slot)
            else:
                kind = _wire.OK
                try:
                    body = pickle.dumps(result, protocol=5)
                except BaseException as exc:
                    msg_text = (
                        f"the task's result ({type(result).__name__}) could not be pickled: {exc!r}"
                    )
                    raise TypeError(msg_text) from exc
        except BaseException as exc:
            kind, body = _wire.ERR, _wire.flatten_exception(exc)
        finally:
            _task.set_current(None)
        end = time.monotonic()
        return (kind, task_id, body, start, end, ctx.phases, _rss_bytes())

    def serve(self) -> int:
        while True:
            msg = _wire.recv_message(self.sock)
            if msg is None or msg[0] == _wire.EXIT:
                return 0
            reply = self.run_task(msg)
            del msg
            _wire.send_message(self.sock, reply)


def _worker_main(fd: int, index: int, flags: np.ndarray[Any, Any], worker_init: Any) -> NoReturn:
    code = 70
    try:
        _set_parent_death_signal()
        sock = socket.socket(fileno=fd)
        sock.setblocking(True)
        import random

        random.seed()
        np.random.seed()
        flag = _task.ExitFlag(flags[index : index + 1])
        try:
            if worker_init is not None:
                worker_init()
        except BaseException as exc:
            _wire.send_message(sock, (_wire.FAILED, _wire.flatten_exception(exc)))
            os._exit(3)
        _wire.send_message(sock, (_wire.HELLO, os.getpid(), index))
        code = _Worker(sock, index, flag).serve()
    except (BrokenPipeError, ConnectionResetError):
        code = 0  # the orchestrator went away (pool closed while this worker started)
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


# --------------------------------------------------------------------------- template process


def _exit_code(status: int) -> int:
    """Exit status as an int: the exit code, or minus the signal number."""
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    return status


def _import_main(main_name: str | None, main_path: str | None) -> None:
    """Import the orchestrator's main module as ``__mp_main__`` (multiprocessing's spawn rules)."""
    import runpy
    import types

    if main_name is not None:
        if main_name == "__main__" or main_name.endswith(".__main__"):
            return
        module = importlib.import_module(main_name)
    elif main_path is not None:
        module = types.ModuleType("__mp_main__")
        module.__dict__.update(runpy.run_path(main_path, run_name="__mp_main__"))
    else:
        return
    sys.modules["__main__"] = sys.modules["__mp_main__"] = module


class _Template:
    def __init__(self, ctrl: socket.socket) -> None:
        self.ctrl = ctrl
        self.children: dict[int, int] = {}
        self.fds: deque[int] = deque()
        self.buffer = bytearray()
        self.flags: np.ndarray[Any, Any] = np.zeros(1, dtype=np.uint8)
        self.flags_map: Any = None
        self.worker_init: Callable[[], Any] | None = None

    def send(self, message: Any) -> None:
        _wire.send_message(self.ctrl, message)

    def configure(self) -> dict[str, Any]:
        msg = _wire.recv_message(self.ctrl)
        if msg is None:
            raise SystemExit(0)
        _, plain, blob = msg
        for entry in reversed(plain["sys_path"]):
            if entry not in sys.path:
                sys.path.insert(0, entry)
        info: dict[str, Any] = {"pid": os.getpid(), "main_error": None}
        if plain["import_main"]:
            try:
                _import_main(plain["main_name"], plain["main_path"])
            except BaseException as exc:
                info["main_error"] = f"{type(exc).__name__}: {exc}"
        for name in plain["preload"]:
            importlib.import_module(name)
        self.flags_map = attach(plain["flags_name"], plain["flags_size"])
        self.flags = np.frombuffer(self.flags_map, dtype=np.uint8)
        hooks = pickle.loads(blob)
        start = time.perf_counter()
        warm = hooks["warm_up"]
        if warm is not None:
            info["warm_up"] = warm()
        if hooks["initializer"] is not None:
            hooks["initializer"](*hooks["initargs"])
        self.worker_init = hooks["worker_init"]
        info["warm_up_seconds"] = time.perf_counter() - start
        gc.collect()
        gc.freeze()
        info["threads"] = threading.active_count()
        try:
            info["os_threads"] = len(os.listdir("/proc/self/task"))
        except OSError:
            info["os_threads"] = None
        info["numba_threads"] = os.environ.get("NUMBA_NUM_THREADS")
        return info

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            self.children.pop(pid, None)
            self.send((_wire.EXITED, pid, _exit_code(status)))

    def fork(self, index: int, wake: tuple[socket.socket, socket.socket]) -> None:
        fd = self.fds.popleft()
        pid = os.fork()
        if pid == 0:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            for s in (self.ctrl, *wake):
                s.close()
            for other in self.fds:
                os.close(other)
            _worker_main(fd, index, self.flags, self.worker_init)
        os.close(fd)
        self.children[pid] = index
        self.send((_wire.FORKED, index, pid))

    def stop_children(self, grace: float) -> None:
        deadline = time.monotonic() + grace
        while self.children and time.monotonic() < deadline:
            self.reap_quietly()
            time.sleep(0.005)
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        while self.children:
            try:
                pid, _ = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            self.children.pop(pid, None)

    def reap_quietly(self) -> None:
        while self.children:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            self.children.pop(pid, None)

    def serve(self) -> None:
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        try:
            while True:
                readable, _, _ = select.select([self.ctrl, wake_r], [], [])
                if wake_r in readable:
                    try:
                        while wake_r.recv(4096):
                            pass
                    except BlockingIOError:
                        pass
                self.reap()
                if self.ctrl not in readable:
                    continue
                data, fds, _, _ = socket.recv_fds(self.ctrl, 65536, 64)
                self.fds.extend(fds)
                if not data:
                    self.stop_children(0.0)  # the orchestrator is gone
                    return
                self.buffer += data
                while len(self.buffer) >= _wire.HEADER.size:
                    (size,) = _wire.HEADER.unpack_from(self.buffer)
                    end = _wire.HEADER.size + size
                    if len(self.buffer) < end:
                        break
                    msg = pickle.loads(bytes(self.buffer[_wire.HEADER.size : end]))
                    del self.buffer[:end]
                    if msg[0] == _wire.FORK:
                        self.fork(int(msg[1]), (wake_r, wake_w))
                    elif msg[0] == _wire.EXIT:
                        self.stop_children(float(msg[1]))
                        return
        finally:
            signal.set_wakeup_fd(-1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fastshare._worker")
    parser.add_argument("--fd", type=int, required=True, help="control socket file descriptor")
    ns = parser.parse_args(argv)
    os.environ[TEMPLATE_ENV] = "1"
    faulthandler.enable()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ctrl = socket.socket(fileno=ns.fd)
    ctrl.setblocking(True)
    template = _Template(ctrl)
    try:
        info = template.configure()
    except BaseException as exc:
        with contextlib.suppress(OSError):
            template.send((_wire.FAILED, _wire.flatten_exception(exc)))
        return 1
    template.send((_wire.READY, info))
    try:
        template.serve()
    except OSError:
        template.stop_children(0.0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
