"""`taskkit api-server` as a real process: it serves, and refuses bad starts in one line."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from api_harness import ApiHome


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    """Start `taskkit api-server` on 127.0.0.1:port."""
    return subprocess.Popen(
        [sys.executable, "-m", "taskkit", "api-server", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until_listening(process: subprocess.Popen[str]) -> str:
    """The server's first stdout line, once it says it listens."""
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "listening on http://127.0.0.1:" in line, line
    return line


def stop(process: subprocess.Popen[str]) -> None:
    """Interrupt the server and wait for it."""
    process.send_signal(2)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_the_server_serves_the_api_the_ui_and_local_docs(api_sqlite: ApiHome) -> None:
    """The real server answers health without login, issues tokens, and serves /docs from
    local files (no CDN) and /openapi.json."""
    port = free_port()
    process = start(api_sqlite.env(), port)
    try:
        wait_until_listening(process)
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{base}/api/v2/monitor/health", timeout=30) as response:
            assert json.load(response)["metadatabase"]["status"] == "healthy"
        request = urllib.request.Request(
            f"{base}/auth/token",
            data=json.dumps({"username": "viewer", "password": "viewer-pass"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            token = json.load(response)["access_token"]
        request = urllib.request.Request(
            f"{base}/api/v2/dags", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert json.load(response)["total_entries"] == 2
        with urllib.request.urlopen(f"{base}/docs", timeout=30) as response:
            page = response.read().decode()
        assert "/swagger-ui/swagger-ui-bundle.js" in page
        assert "cdn" not in page.lower()
        with urllib.request.urlopen(f"{base}/swagger-ui/swagger-ui-bundle.js", timeout=30) as r:
            assert r.status == 200
        with urllib.request.urlopen(f"{base}/openapi.json", timeout=30) as response:
            spec = json.load(response)
        assert "/api/v2/dags/{dag_id}/dagRuns" in spec["paths"]
    finally:
        stop(process)


def test_a_taken_port_is_one_clear_line(api_sqlite: ApiHome) -> None:
    """Starting on a port something holds exits 1 with one line naming the port and the fix."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "taskkit", "api-server", "--port", str(port)],
            env=api_sqlite.env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"Port {port} on 127.0.0.1 is already in use" in lines[0]
    assert "--port" in lines[0]


def test_an_uninitialised_metastore_is_one_clear_line(tmp_path: Path) -> None:
    """Starting against a metastore that was never initialised exits 1 saying to run db init."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKKIT")}
    env["TASKKIT_HOME"] = str(tmp_path / "home")
    done = subprocess.run(
        [sys.executable, "-m", "taskkit", "api-server", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "taskkit db init" in lines[0]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_a_bad_port_is_a_usage_error(tmp_path: Path, port: str) -> None:
    """--port outside 1..65535 is refused before anything starts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKKIT")}
    env["TASKKIT_HOME"] = str(tmp_path / "home")
    done = subprocess.run(
        [sys.executable, "-m", "taskkit", "api-server", "--port", port],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "--port" in done.stderr
