"""Grading a folder of submitted notebooks: each in a sandbox, scored by checks the submission cannot replace.

``python -m audioformers.coursework grade SUBMISSIONS --out grades.csv`` calls :func:`grade_folder`. For each
notebook (``SUBMISSIONS/STUDENT/notebook.ipynb``, or ``SUBMISSIONS/notebook.ipynb``):

* the notebook is read into memory before any submission runs (a submission that edits a classmate's file on disk
  changes nothing), and its folder (``STUDENT/``; for a notebook at the top level, the notebook alone) is copied into
  a fresh temporary folder: the submission runs in its copy, never in place;
* a Jupyter kernel runs, in its copy, the exercise cells (without their self-check calls) and, from every other code
  cell, its imports, function and class definitions and constant assignments (a student's helpers). The kernel
  starts in its own session and process group, with a time limit (from its first cell to its last check), an
  address-space limit, and — when the grader runs as root — as a fresh unprivileged user id that owns nothing but
  the copy (:mod:`audioformers.book.sandbox`). When it ends, its process group is killed, and, under its own user id,
  every process of that id and every file it left in the world-writable temporary folders;
* the **checks run in the grader's process**, on the answers of the student's functions: each exercise's
  ``check`` (imported from disk by the grader, never by the submission) calls a stand-in that sends the inputs to
  the kernel and brings back what the student's function returned, as plain data (NumPy arrays, tensors, numbers,
  lists, dicts; never pickles). Replacing ``EXERCISES`` or a check inside the notebook changes nothing;
* an implement-it exercise's check names the functions that would replace what it asks for
  (:class:`audioformers.core.selfcheck.Forbidden`); the kernel patches them to raise while the student's function
  runs, so a library's answer fails its check, saying which function was called;
* a static reading of each exercise's code (and the helpers it calls) **flags** a submission that calls the
  package's reference solutions or its own implementation, or the library function the exercise asks the student
  to write (an FFT in the DFT exercise): the ``flags`` column, for a person to read;
* each row carries the **rubric** of a self-checked exercise (:data:`RUBRIC_FIELDS`): ``correctness`` (the
  self-check's points) and ``flags`` filled by the grader, ``code_quality``, ``explanation`` and ``comment`` left
  for the teacher, ``rubric_max`` the most the row can earn.

This limits what a submission can do; it is not a security boundary against a determined attacker (no network or
filesystem isolation beyond permissions). Grade a class you do not know inside a container or a virtual machine.

Notebook: ``instructor_guide.md`` (section "Grading a class").
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

# The rubric of a self-checked exercise, one column per criterion: who fills it, and its most points.
# correctness: the self-check's points (grader); code_quality and explanation: the teacher, 0 .. their maximum;
# rubric_max: points + the teacher's criteria at most; comment: the teacher's words to the student.
RUBRIC = {"correctness": ("grader", None), "code_quality": ("teacher", 1), "explanation": ("teacher", 1)}
RUBRIC_FIELDS = ["correctness", "code_quality", "explanation", "rubric_max", "comment"]
GRADE_FIELDS = ["student", "notebook", "exercise", "passed", "points", "max_points", "message", "flags", *RUBRIC_FIELDS]
DEFAULT_TIMEOUT_S = 300.0
DEFAULT_MEMORY_GIB = 4.0
MIME = "application/x-audioformers-grader"
_MAX_REPLY_BYTES = 256 << 20


# ================================================================== the wire: plain data between kernel and grader
def encode(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON-able plain data: arrays and tensors as ``.npy`` bytes (never pickles), containers
    recursively, anything else by its type's name alone."""
    import numpy as np

    torch = sys.modules.get("torch")
    if depth > 32:
        return {"opaque": "nested too deep"}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if torch is not None and isinstance(value, torch.Tensor):
        tensor = value.detach().cpu()
        dtype = str(tensor.dtype).removeprefix("torch.")
        if tensor.dtype in (torch.bfloat16,):
            tensor = tensor.float()
        return {"tensor": _npy(tensor.numpy()), "dtype": dtype}
    if isinstance(value, np.ndarray) and value.dtype != object:
        return {"ndarray": _npy(value)}
    if isinstance(value, np.generic) and not isinstance(value, np.object_):
        return {"npscalar": _npy(np.asarray(value))}
    if isinstance(value, (list, tuple)):
        return {type(value).__name__ if type(value) in (list, tuple) else "list": [encode(v, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {"dict": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    return {"opaque": type(value).__name__}


def _npy(array) -> str:
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


_TORCH_DTYPES = {"float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool",
                 "complex64", "complex128"}


def decode(data: Any, depth: int = 0) -> Any:
    """The inverse of :func:`encode`, for data from an untrusted kernel: NumPy loads without pickles, unknown
    objects become an empty stand-in that carries the type's name."""
    import numpy as np

    if depth > 32:
        raise ValueError("nested too deep")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if not isinstance(data, dict) or len(data) not in (1, 2):
        raise ValueError("malformed reply")
    if "ndarray" in data:
        return np.load(io.BytesIO(base64.b64decode(data["ndarray"])), allow_pickle=False)
    if "npscalar" in data:
        return np.load(io.BytesIO(base64.b64decode(data["npscalar"])), allow_pickle=False)[()]
    if "tensor" in data:
        import torch

        array = np.load(io.BytesIO(base64.b64decode(data["tensor"])), allow_pickle=False)
        dtype = data.get("dtype")
        tensor = torch.from_numpy(np.array(array))
        return tensor.to(getattr(torch, dtype)) if dtype in _TORCH_DTYPES else tensor
    if "list" in data or "tuple" in data:
        items = [decode(v, depth + 1) for v in data.get("list", data.get("tuple")) or []]
        return items if "list" in data else tuple(items)
    if "dict" in data:
        out = {}
        for key, value in data["dict"]:
            key = decode(key, depth + 1)
            if isinstance(key, (str, int, float, bool, tuple)) or key is None:
                out[key] = decode(value, depth + 1)
        return out
    if "opaque" in data:
        name = re.sub(r"\W", "", str(data["opaque"]))[:60] or "object"
        return type(name, (), {"__repr__": lambda self: f"<a {type(self).__name__} from the submission>"})()
    raise ValueError("malformed reply")


def kernel_call(namespace: dict, name: str, request: str, forbidden: str | None = None) -> None:
    """In the student's kernel: call ``namespace[name]`` on the decoded request, with the functions ``forbidden``
    (JSON of :meth:`Forbidden.as_data`) patched to raise, and publish the encoded answer."""
    import contextlib
    import traceback

    from IPython.display import publish_display_data

    try:
        args, kwargs = decode(json.loads(request))
        function = namespace[name]
        if forbidden:
            from audioformers.core.selfcheck import Forbidden, forbidding

            guard = forbidding(Forbidden.from_data(json.loads(forbidden)), function)
        else:
            guard = contextlib.nullcontext()
        with guard:
            value = function(*args, **kwargs)
        reply = {"ok": encode(value), "args": [encode(a) if isinstance(a, (dict, list)) else None for a in args]}
    except BaseException as error:  # noqa: BLE001 - the student's error goes back to the grader as data
        frames = traceback.extract_tb(error.__traceback__)[1:]
        last = frames[-1] if frames else None
        reply = {"error": {"type": type(error).__name__, "message": str(error)[:2000],
                           "lineno": last.lineno if last else 0, "line": (last.line or "")[:300] if last else ""}}
    publish_display_data({MIME: json.dumps(reply)})


def kernel_probe(namespace: dict, name: str) -> None:
    """In the student's kernel: does ``name`` exist, and is it callable?"""
    from IPython.display import publish_display_data

    value = namespace.get(name)
    publish_display_data({MIME: json.dumps({"exists": name in namespace, "callable": callable(value),
                                            "type": type(value).__name__})})


from audioformers.book.guide import HARDER, TYPE_PLAN  # noqa: E402
from audioformers.book.notebooks import cell_source as _source  # noqa: E402
from audioformers.book.sandbox import fresh_user, kill_user_processes, remove_user_files  # noqa: E402,F401
from audioformers.book.submission_code import (
    PREAMBLE,
    LIBRARY_ANSWERS,
    definitions_only,
    flags_for,
    python_source,
    without_checks,
)  # noqa


# ================================================================== the sandbox: a copy, a kernel, limits, a user
class Stopped(BaseException):
    """The submission's kernel ran out of time or died: grading of this notebook stops (not an ``Exception``, so
    that no check mistakes it for an error of the student's function)."""


def _copy_tree(source: Path, target: Path, notebook_name: str, notebook_bytes: bytes, whole_folder: bool) -> None:
    """Regular files and folders only (a link in a submission could point anywhere); the notebook from memory."""
    import shutil

    target.mkdir(parents=True, exist_ok=True)
    if whole_folder:
        for folder, dirs, files in os.walk(source, followlinks=False):
            relative = Path(folder).relative_to(source)
            dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
            for d in dirs:
                (target / relative / d).mkdir(exist_ok=True)
            for name in files:
                path = Path(folder, name)
                if not path.is_symlink() and path.is_file():
                    shutil.copyfile(path, target / relative / name)
    (target / notebook_name).parent.mkdir(parents=True, exist_ok=True)
    (target / notebook_name).write_bytes(notebook_bytes)


class Kernel:
    """A Jupyter kernel in a sandbox folder: its own session, limits, and (as root) a fresh user id."""

    def __init__(self, work: Path, root: Path, memory_bytes: int, user: tuple[int, int] | None):
        from jupyter_client import BlockingKernelClient
        from jupyter_client.connect import write_connection_file

        import audioformers

        self.user = user
        connection = root / "kernel.json"
        write_connection_file(str(connection), key=os.urandom(16).hex().encode(), ip="127.0.0.1")
        package = str(Path(audioformers.__file__).resolve().parents[1])
        expose = sorted({os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), sys.prefix, package,
                         os.path.realpath(sys.executable), str(work)})
        limits = {"RLIMIT_AS": memory_bytes, "RLIMIT_CORE": 0, "RLIMIT_FSIZE": 1 << 30}
        if user is not None:
            limits["RLIMIT_NPROC"] = 512
            (root / "stash").mkdir(mode=0o700)
        config = {"uid": user[0] if user else None, "gid": user[1] if user else None, "expose": expose,
                  "stash": str(root / "stash"), "limits": limits, "own": [str(connection)], "cwd": str(work)}
        command = [sys.executable, "-m", "ipykernel_launcher", "-f", str(connection),
                   "--HistoryManager.hist_file=:memory:", "--IPKernelApp.matplotlib=agg"]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work), "USER": "student",
               "LOGNAME": "student", "TMPDIR": str(work / ".tmp"), "IPYTHONDIR": str(work / ".ipython"),
               "MPLCONFIGDIR": str(work / ".matplotlib"), "XDG_CACHE_HOME": str(work / ".cache"),
               "XDG_CONFIG_HOME": str(work / ".config"), "JUPYTER_RUNTIME_DIR": str(work / ".jupyter"),
               "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "MALLOC_ARENA_MAX": "2", "PYDEVD_DISABLE_FILE_VALIDATION": "1", "JPY_PARENT_PID": str(os.getpid())}
        for name in ("LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV", "BOOK_PROFILE"):
            if name in os.environ:
                env[name] = os.environ[name]
        (work / ".tmp").mkdir(exist_ok=True)
        if user is not None:
            for folder, dirs, files in os.walk(work):
                for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
                    os.chown(name, *user, follow_symlinks=False)
            os.chmod(work, 0o700)
            os.chmod(root, 0o711)
        sandbox = str(Path(__file__).with_name("sandbox.py"))
        import subprocess

        self.log = open(root / "kernel.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen([sys.executable, "-I", sandbox, json.dumps(config), "--", *command],
                                        stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                                        env=env, cwd=str(root), start_new_session=True)
        self.root = root
        self.client = BlockingKernelClient()
        self.client.load_connection_file(str(connection))
        self.client.start_channels()

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                self.client.wait_for_ready(timeout=2)
                return
            except RuntimeError:
                continue
        log = (self.root / "kernel.log").read_text(errors="replace").strip().splitlines()
        raise RuntimeError("the kernel did not start" + (f": {log[-1]}" if log else ""))

    def run(self, code: str, timeout_s: float) -> tuple[dict, list[Any]]:
        """Execute ``code``; return the reply's content and the payloads the code published for the grader."""
        payloads: list[Any] = []

        def hook(message: dict) -> None:
            data = message.get("content", {}).get("data", {})
            if message.get("msg_type") in ("display_data", "execute_result") and MIME in data:
                payloads.append(data[MIME])

        import queue

        deadline = time.monotonic() + timeout_s
        message_id = self.client.execute(code, store_history=False, allow_stdin=False)
        idle = False
        while True:
            if time.monotonic() > deadline:
                raise Stopped("time")
            if self.process.poll() is not None:
                raise Stopped("died")
            if not idle:
                try:
                    message = self.client.get_iopub_msg(timeout=0.2)
                except queue.Empty:
                    continue
                if message.get("parent_header", {}).get("msg_id") != message_id:
                    continue
                if message["msg_type"] == "status" and message["content"].get("execution_state") == "idle":
                    idle = True
                else:
                    hook(message)
                continue
            try:
                reply = self.client.get_shell_msg(timeout=0.2)
            except queue.Empty:
                continue
            if reply.get("parent_header", {}).get("msg_id") == message_id:
                return reply["content"], payloads

    def stop(self) -> None:
        """Kill the kernel's process group (and, under its own user id, every process of that id)."""
        try:
            self.client.stop_channels()
        finally:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except OSError:
                pass
            self.process.wait()
            self.log.close()
            if self.user is not None:
                kill_user_processes(self.user[0])


# ================================================================== grading one notebook
def _raise_as_student(kind: str, message: str, lineno: int, line: str) -> None:
    """Raise, in the grader, the student's error as the check expects it: the same type name, message, and
    last line (``call_student`` quotes it)."""
    import linecache

    if kind == "NotImplementedError":
        raise NotImplementedError(message)
    name = re.sub(r"\W", "", kind)[:60] or "Error"
    error_type = type(name, (Exception,), {})
    lineno = min(max(int(lineno or 1), 1), 10_000)
    filename = "<submission>"
    linecache.cache[filename] = (len(line), None, ["\n"] * (lineno - 1) + [str(line)[:300] + "\n"], filename)
    exec(compile("\n" * (lineno - 1) + "raise error", filename, "exec"), {"error": error_type(message)})


def _reply(payloads: list[Any]) -> dict:
    if not payloads or not isinstance(payloads[-1], str) or len(payloads[-1]) > _MAX_REPLY_BYTES:
        raise ValueError("no answer from the kernel")
    reply = json.loads(payloads[-1])
    if not isinstance(reply, dict):
        raise ValueError("malformed reply")
    return reply


class _StudentFunction:
    """The stand-in the grader's check calls: it runs the student's function in the kernel on the same inputs.

    ``forbidden`` (set by :func:`~audioformers.core.selfcheck.call_student` before each call) goes with the request:
    the kernel patches those functions while the student's function runs.
    """

    forbidden = None

    def __init__(self, kernel: Kernel, name: str, deadline: float):
        self.kernel, self.name, self.deadline = kernel, name, deadline

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        request = json.dumps(encode([list(args), kwargs]))
        forbidden = json.dumps(self.forbidden.as_data()) if self.forbidden is not None else None
        code = (f"from audioformers.book import grading as __grading__\n"
                f"__grading__.kernel_call(globals(), {self.name!r}, {request!r}, {forbidden!r})")
        _, payloads = self.kernel.run(code, self.deadline - time.monotonic())
        try:
            reply = _reply(payloads)
        except ValueError as error:
            raise RuntimeError(f"the grader got no answer from your function ({error})") from None
        if "error" in reply:
            error = reply["error"] if isinstance(reply["error"], dict) else {}
            _raise_as_student(str(error.get("type", "Error")), str(error.get("message", "")),
                              error.get("lineno", 1) if isinstance(error.get("lineno"), int) else 1, str(error.get("line", "")))
        for argument, after in zip(args, reply.get("args") or []):  # a cache dict or list the function filled in
            if after is not None and isinstance(argument, (dict, list)):
                value = decode(after)
                if isinstance(argument, dict) and isinstance(value, dict):
                    argument.clear()
                    argument.update(value)
                elif isinstance(argument, list) and isinstance(value, list):
                    argument[:] = value
        return decode(reply.get("ok"))


def _plan(notebook) -> tuple[list[tuple[str | None, str]], dict[str, list[str]]]:
    """The code the kernel runs, cell by cell (``(exercise key or None, code)``), and each exercise's flags."""
    cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    plan: list[tuple[str | None, str]] = [(None, PREAMBLE)]
    helpers = [_source(c) for c in cells if not c.metadata.get("exercise")]
    flags = {}
    for cell in cells:
        key = cell.metadata.get("exercise")
        source = python_source(_source(cell))
        if key:
            plan.append((str(key), without_checks(source)))
            flags[str(key)] = flags_for(str(key), _source(cell), helpers)
        else:
            code = definitions_only(source)
            if code.strip():
                plan.append((None, code))
    return plan, flags


def _points(key: str) -> int:
    _, minutes, points = TYPE_PLAN["implement"]
    return HARDER.get(key, (minutes, points))[1]


def _failed(message: str) -> list[dict[str, object]]:
    return [{"exercise": "-", "passed": False, "points": 0, "max_points": 0, "message": message, "flags": ""}]


def grade_notebook(path: Path | str, *, notebook_bytes: bytes | None = None, folder: Path | str | None = None,
                   timeout_s: float = DEFAULT_TIMEOUT_S, memory_gib: float = DEFAULT_MEMORY_GIB,
                   user: tuple[int, int] | None | str = "auto") -> list[dict[str, object]]:
    """Grade one submitted notebook in a sandbox (see the module's docstring); one result per exercise.

    ``notebook_bytes``: the notebook as read before grading began (default: read now). ``folder``: the folder copied
    with it (default: the notebook alone). ``timeout_s``: seconds from the kernel's first cell to its last check.
    ``memory_gib``: the kernel's address-space limit. ``user``: ``(uid, gid)`` to run as, ``None`` for the grader's
    own, or ``"auto"`` (a fresh unused id when the grader is root, else the grader's own).
    """
    import contextlib
    import shutil
    import tempfile

    import nbformat

    from audioformers.exercises import ExerciseFailed, get_exercise

    path = Path(path)
    timeout_s, memory_gib = _positive("timeout_s", timeout_s), _positive("memory_gib", memory_gib)
    data = path.read_bytes() if notebook_bytes is None else notebook_bytes
    try:
        notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
        plan, flags = _plan(notebook)
    except Exception as error:  # noqa: BLE001 - not a notebook: reported, graded 0
        return _failed(f"could not grade: not a readable notebook ({type(error).__name__}: {str(error)[:200]})")
    keys = [key for key, _ in plan if key]
    if user == "auto":
        user = fresh_user() if hasattr(os, "geteuid") and os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="audioformers-grade-"))
    results: dict[str, dict[str, object]] = {}
    errors: dict[str, str] = {}
    stopped = ""
    kernel = None
    try:
        work = root / "work"
        name = str(path.relative_to(folder)) if folder else path.name
        _copy_tree(Path(folder) if folder else path.parent, work, name, data, whole_folder=folder is not None)
        kernel = Kernel(work, root, int(memory_gib * (1 << 30)), user)
        kernel.wait_ready(120)
        deadline = time.monotonic() + timeout_s
        for key, code in plan:
            content, _ = kernel.run(code, deadline - time.monotonic())
            if key and content.get("status") == "error":
                errors[key] = f"{content.get('ename', 'Error')}: {str(content.get('evalue', ''))[:300]}"
        for key in keys:
            exercise = get_exercise(key)
            result = {"exercise": key, "passed": False, "points": 0, "max_points": _points(key), "message": "",
                      "flags": "; ".join(flags.get(key, []))}
            results[key] = result
            _, payloads = kernel.run(f"from audioformers.book import grading as __grading__\n"
                                     f"__grading__.kernel_probe(globals(), {exercise.name!r})", deadline - time.monotonic())
            probe = _reply(payloads)
            if not probe.get("exists") or not probe.get("callable"):
                result["message"] = (f"✗ {exercise.name}: the cell raised {errors[key]}" if key in errors else
                                     f"✗ {exercise.name}: the cell defines no function called {exercise.name}"
                                     if not probe.get("exists") else f"✗ {exercise.name}: {exercise.name} is a "
                                     f"{str(probe.get('type'))[:40]}, not a function")
                continue
            out = io.StringIO()
            try:
                with contextlib.redirect_stdout(out):
                    passed = exercise.check(_StudentFunction(kernel, exercise.name, deadline), raise_on_failure=False)
                lines = [line for line in out.getvalue().splitlines() if line.startswith(("✓", "✗"))]
                result.update(passed=bool(passed), points=result["max_points"] if passed else 0,
                              message=lines[-1] if lines else "")
            except ExerciseFailed as failure:
                result["message"] = str(failure)
            except Exception as error:  # noqa: BLE001 - a check that cannot run on this answer: 0, said why
                result["message"] = f"✗ {exercise.name}: {type(error).__name__}: {str(error)[:300]}"
    except Stopped as stop:
        stopped = (f"stopped after {timeout_s:.0f} s (an endless loop?)" if str(stop) == "time"
                   else "the kernel died (out of memory, or the notebook ended its own process?)")
    except Exception as error:  # noqa: BLE001 - the sandbox could not run it: reported, graded 0
        stopped = f"could not grade: {type(error).__name__}: {str(error)[:300]}"
    finally:
        if kernel is not None:
            kernel.stop()
        if user is not None:
            kill_user_processes(user[0])
            remove_user_files(user[0])
        shutil.rmtree(root, ignore_errors=True)
    rows = [results.get(key) or {"exercise": key, "passed": False, "points": 0, "max_points": _points(key),
                                 "message": f"✗ not graded: {stopped}", "flags": "; ".join(flags.get(key, []))}
            for key in keys]
    if stopped:
        for row in rows:
            if row is results.get(row["exercise"]) and not row["message"]:
                row["message"] = f"✗ not graded: {stopped}"
        rows += _failed(stopped)
    return rows


def _positive(name: str, value: float) -> float:
    import math

    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be positive, a finite number of {'seconds' if 'time' in name else 'GiB'}, got {value!r}")
    return float(value)


def with_rubric(row: dict[str, object]) -> dict[str, object]:
    """``row`` with its rubric columns: ``correctness`` (the self-check's points) and ``rubric_max`` filled, the
    teacher's criteria (``code_quality``, ``explanation``) and ``comment`` empty; a ``-`` row (a notebook that could
    not be graded) has nothing to score."""
    graded = row.get("exercise") not in (None, "-")
    teacher_max = sum(most for who, most in RUBRIC.values() if who == "teacher")
    return {**row, "correctness": row.get("points", 0) if graded else 0, "code_quality": "", "explanation": "",
            "rubric_max": int(row.get("max_points", 0) or 0) + teacher_max if graded else 0, "comment": ""}


def student_of(path: Path, folder: Path) -> str:
    relative = path.relative_to(folder)
    return relative.parts[0] if len(relative.parts) > 1 else path.stem


def _close_to_others(folder: Path) -> list[str]:
    """Take write permission for other users off ``folder`` and everything in it (the sandbox user is one)."""
    changed = []
    for current, dirs, files in os.walk(folder):
        for name in [current, *(os.path.join(current, n) for n in dirs + files)]:
            st = os.lstat(name)
            if st.st_mode & 0o002 and not os.path.islink(name):
                os.chmod(name, st.st_mode & 0o7775)
                changed.append(name)
    return changed


def grade_folder(folder: Path | str, out: Path | str, timeout_s: float = DEFAULT_TIMEOUT_S,
                 memory_gib: float = DEFAULT_MEMORY_GIB, user: tuple[int, int] | None | str = "auto") -> list[dict[str, object]]:
    """Grade every ``*.ipynb`` under ``folder`` (``STUDENT/notebook.ipynb`` or ``notebook.ipynb``), each in its own
    sandbox (:func:`grade_notebook`), and write the grade table ``out`` (CSV, one row per student and exercise)."""
    import csv

    from audioformers import exercises  # noqa: F401 - the checks, imported from disk by the grader before any submission runs

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"SUBMISSIONS must be a folder of notebooks, got {folder}")
    _positive("timeout_s", timeout_s)
    _positive("memory_gib", memory_gib)
    notebooks = sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts and p.is_file()
                       and not p.is_symlink())
    if not notebooks:
        raise FileNotFoundError(f"no notebooks (*.ipynb) under {folder}")
    if user == "auto" and hasattr(os, "geteuid") and os.geteuid() == 0:
        changed = _close_to_others(folder)
        if changed:
            print(f"took write permission for other users off {len(changed)} entries under {folder}", file=sys.stderr)
    snapshot = {path: path.read_bytes() for path in notebooks}  # before any submission runs
    rows = []
    for path in notebooks:
        student = student_of(path, folder)
        nested = len(path.relative_to(folder).parts) > 1
        base = {"student": student, "notebook": str(path.relative_to(folder))}
        results = grade_notebook(path, notebook_bytes=snapshot[path], folder=folder / student if nested else None,
                                 timeout_s=timeout_s, memory_gib=memory_gib, user=user)
        rows += [with_rubric({**base, **result}) for result in results]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=GRADE_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return rows
