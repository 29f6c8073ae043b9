"""The job's MLflow store served over HTTP to its trials, when a trial's MLflow may not be azsweep's own.

A trial whose command installs its own MLflow (Microsoft's pipeline sweep component starts with
``pip install 'mlflow<2.19'``), whose built environment holds another MLflow version, or which runs in a
container of an image (``containers.py``) with the image's own MLflow, may not open the
SQLite store azsweep's MLflow made (its schema is newer than an older MLflow knows). On Azure a trial's
MLflow talks to the workspace's tracking service over REST; here such trials get the same store served by
MLflow's own tracking server app in a child process of the driver (on 127.0.0.1, at a free port), whose
REST API MLflow 2.x and 3.x clients speak. Artifacts are not proxied: a run's artifact folder is on this
machine, and the trial writes there directly, as it does without the server.

The server lives as long as the job's driver: it exits when its standard input closes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

from azsweep.runner.isolation import BaseEnvironment
from azsweep.runner.tracking import TELEMETRY_OFF

READY_SECONDS = 120.0  # how long the driver waits for the server to listen (an import of MLflow on a busy machine)
QUOTES = "'\""  # around a requirement in a shell command
LOG_NAME = "store_server.log"  # in the job's folder: what the server printed

# a pip install in the command naming mlflow: "pip install 'mlflow<2.19' -q", "python -m pip install -U mlflow==2.9"
_INSTALLS_MLFLOW = re.compile(r"\bpip3?\b[^;&|\n]*\binstall\b[^;&|\n]*?(['\"]?mlflow(?:-skinny)?\b[^\s;&|'\"]*)")


def serve_reason(command: str, base: BaseEnvironment, store_uri: str) -> str | None:
    """Why the trials of a job running ``command`` on ``base`` should reach ``store_uri`` through a server
    (None: they open it directly, with the same MLflow as azsweep's).

    Only a store on this machine's disk is served (``sqlite:``, ``file:`` or a plain path); a tracking
    server or a database the user gave is already reached over the network by any MLflow.
    """
    if "://" in store_uri and not store_uri.startswith(("sqlite:", "file:")):
        return None
    if base.container is not None:  # the image's MLflow, whatever its version (--network host: 127.0.0.1 is here)
        return f"its trials run in containers of {base.container.image}, on the image's MLflow"
    installed = _INSTALLS_MLFLOW.search(command)
    if installed:
        return f"its command installs its own MLflow ({installed.group(1).strip(QUOTES)})"
    ours = metadata.version("mlflow")
    theirs = _mlflow_version(base.site_dirs)
    if theirs is not None and theirs != ours:
        return f"its environment has MLflow {theirs} (azsweep's is {ours})"
    return None


def _mlflow_version(site_dirs: tuple[Path, ...]) -> str | None:
    """The MLflow version installed in ``site_dirs`` (the first found), None when there is none."""
    for dist in metadata.distributions(path=[str(d) for d in site_dirs]):
        if (dist.metadata["Name"] or "").lower() in ("mlflow", "mlflow-skinny"):
            return dist.version
    return None


@contextmanager
def served(store_uri: str, artifact_root: Path | None, log: Path) -> Iterator[str]:
    """Serve ``store_uri`` over HTTP while the block runs; yields the URI the trials use (``http://127.0.0.1:PORT``).

    Raises ``OSError`` when the server does not start (its log says why).
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "azsweep.runner.store_server", store_uri]
    if artifact_root is not None:
        args.append(artifact_root.as_uri())
    with log.open("ab") as err:
        process = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            env={**os.environ, **TELEMETRY_OFF},
            start_new_session=True,  # a Ctrl-C meant for the driver does not stop it before the trials are closed
        )
    try:
        port = _read_port(process)
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.stdin is not None:
            process.stdin.close()  # the server exits when its stdin closes
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _read_port(process: subprocess.Popen[bytes]) -> int:
    """The port the server printed once it listens; ``OSError`` when it exits or says nothing in time."""
    stdout = process.stdout
    assert stdout is not None
    line: list[bytes] = []
    reader = threading.Thread(target=lambda: line.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(READY_SECONDS)
    text = line[0].decode().strip() if line else ""
    if not text.isdigit():
        process.kill()
        process.wait()
        raise OSError(f"the MLflow tracking server for the trials did not start (exit code {process.returncode})")
    return int(text)


def main(argv: list[str] | None = None) -> None:
    """``python -m azsweep.runner.store_server STORE_URI [ARTIFACT_ROOT]``: serve the store on 127.0.0.1 at a
    free port, print the port, and exit when stdin closes."""
    import logging

    args = sys.argv[1:] if argv is None else argv
    from mlflow.server import ARTIFACT_ROOT_ENV_VAR, BACKEND_STORE_URI_ENV_VAR

    os.environ[BACKEND_STORE_URI_ENV_VAR] = args[0]
    if len(args) > 1:
        os.environ[ARTIFACT_ROOT_ENV_VAR] = args[1]
    from mlflow.server import app
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request
    # one request at a time: the store's writes are serialized (MLflow's SQLite store checks, then inserts, a
    # dataset that two trials' autologging log at once: concurrent requests would race into a UNIQUE error)
    server = make_server("127.0.0.1", 0, app, threaded=False)

    def stop_when_stdin_closes() -> None:
        sys.stdin.buffer.read()
        os._exit(0)

    threading.Thread(target=stop_when_stdin_closes, daemon=True).start()
    print(server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
