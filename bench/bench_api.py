"""Benchmark the API on a big installation: 200 DAGs, a 1,000-task DAG with 50 runs (50,000
task instances), SQLite.

  .venv/bin/python bench/bench_api.py [--repeat 30]

Builds the installation in a temporary TASKKIT_HOME (DAG files parsed by the real DAG
processor; the 50 runs created through the metastore with their task instances in mixed
states), starts `taskkit api-server` as its own process, then times over HTTP with a bearer
token, after one warm-up request each: the DAG list (API and page), the grid's data for 25
runs, and the pools (API and page). Prints the median and p95 wall time of each in
milliseconds, and the server process's CPU time per request (from /proc, Linux only), which
the machine's load does not inflate.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from sqlalchemy import case, update

SMALL_DAG = """
from taskkit import DAG, EmptyOperator
for i in range({start}, {stop}):
    with DAG(f"dag_{{i:03d}}", tags=["bench", f"group{{i % 7}}"]):
        a = EmptyOperator(task_id="a")
        a >> EmptyOperator(task_id="b")
"""

BIG_DAG = """
from taskkit import DAG, EmptyOperator
with DAG("big", tags=["bench"]):
    previous = None
    for i in range(1000):
        pool = "bench_pool" if i % 10 == 0 else "default_pool"
        op = EmptyOperator(task_id=f"task_{i:04d}", pool=pool)
        if previous is not None and i % 50:
            previous >> op
        previous = op
"""


def build(home: Path) -> str:
    """Create the installation; returns the metastore URL."""
    import datetime as dt

    from taskkit.config import load_settings
    from taskkit.metastore import Metastore, init_db
    from taskkit.metastore.tables import TaskInstanceRow
    from taskkit.services import users
    from taskkit.services.dag_versions import DagVersions, secret_key
    from taskkit.services.dags import sync_folder
    from taskkit.states import RunType, State

    dags = home / "dags"
    dags.mkdir(parents=True)
    for part in range(4):  # 4 files of 50 DAGs: 200 DAGs + big = 201
        (dags / f"small_{part}.py").write_text(
            SMALL_DAG.format(start=part * 50, stop=part * 50 + 50)
        )
    (dags / "big.py").write_text(BIG_DAG)
    url = f"sqlite:///{home / 'taskkit.db'}"
    os.environ["TASKKIT_HOME"] = str(home)
    os.environ["TASKKIT__DATABASE__SQL_ALCHEMY_CONN"] = url
    init_db(url)
    config = load_settings()
    with Metastore.open(url) as store:
        store.set_pool("bench_pool", 8)
        sync_folder(store, config)
        users.create_user(store, "bench", users.Role.VIEWER, "bench-password")
        spec = DagVersions(store, secret_key(config)).current("big").spec
        version = store.get_dag("big").current_version_id
        assert version is not None
        start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
        for n in range(50):
            store.create_run(
                "big",
                f"run_{n:02d}",
                start + dt.timedelta(days=n),
                run_type=RunType.MANUAL,
                dag_version_id=version,
                tasks=list(spec.tasks.values()),
            )
        ti = TaskInstanceRow
        # Older runs finished; the newest is under way: a few running, more scheduled.
        mixed = case(
            (ti.run_id != "run_49", State.SUCCESS.value),
            (ti.task_id < "task_0010", State.RUNNING.value),
            (ti.task_id < "task_0300", State.SCHEDULED.value),
            else_=State.NONE.value,
        )
        with store.engine.begin() as connection:
            connection.execute(update(ti).values(state=mixed))
    return url


def cpu_ms(pid: int) -> float:
    """CPU time (user + system) a process has used so far, in ms: a figure the machine's load
    does not inflate, unlike wall time."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(url: str, token: str) -> bytes:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return bytes(response.read())


def fetch_page(url: str, cookie: str) -> bytes:
    request = urllib.request.Request(url, headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=60) as response:
        return bytes(response.read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="taskkit-bench-api-"))
    began = time.perf_counter()
    build(home)
    print(f"built 201 DAGs and 50 runs x 1,000 tasks in {time.perf_counter() - began:.1f} s")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "taskkit", "api-server", "--port", str(port)],
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        server.stdout.readline()
        base = f"http://127.0.0.1:{port}"
        body = json.dumps({"username": "bench", "password": "bench-password"}).encode()
        request = urllib.request.Request(
            f"{base}/auth/token", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            token = json.load(response)["access_token"]
        login = urllib.request.Request(
            f"{base}/login", data=b"username=bench&password=bench-password&next=/health"
        )
        opener = urllib.request.build_opener(NoRedirect())
        try:
            opener.open(login, timeout=60)
        except urllib.error.HTTPError as exc:
            cookie = exc.headers["set-cookie"].split(";")[0]
        grid = json.loads(fetch(f"{base}/ui/grid/big?runs=25", token))
        cells = sum(len(row) for row in grid["cells"].values())
        print(f"grid: {len(grid['task_ids'])} tasks x {len(grid['runs'])} runs = {cells} cells")
        cases = {
            "DAG list, API (GET /api/v2/dags?limit=100)": lambda: fetch(
                f"{base}/api/v2/dags?limit=100", token
            ),
            "DAG list, page (GET /)": lambda: fetch_page(f"{base}/", cookie),
            "grid data, 25 runs (GET /ui/grid/big?runs=25)": lambda: fetch(
                f"{base}/ui/grid/big?runs=25", token
            ),
            "pools, API (GET /api/v2/pools)": lambda: fetch(f"{base}/api/v2/pools", token),
            "pools, page (GET /pools)": lambda: fetch_page(f"{base}/pools", cookie),
        }
        print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"{'request':50} {'median ms':>10} {'p95 ms':>8} {'server CPU ms':>14}")
        for name, call in cases.items():
            call()  # warm-up
            times = []
            cpu_before = cpu_ms(server.pid)
            for _ in range(args.repeat):
                began = time.perf_counter()
                call()
                times.append((time.perf_counter() - began) * 1000)
            cpu = (cpu_ms(server.pid) - cpu_before) / args.repeat
            times.sort()
            p95 = times[max(0, int(len(times) * 0.95) - 1)]
            print(f"{name:50} {statistics.median(times):10.1f} {p95:8.1f} {cpu:14.1f}")
        print(f"load average after: {os.getloadavg()[0]:.1f}")
    finally:
        server.send_signal(2)
        server.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)  # ~13 MB of metastore and DAG files


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Keep the login's 303 so its cookie can be read."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


if __name__ == "__main__":
    main()
