"""`taskkit api-server`: the REST API and the web UI in one process."""

from __future__ import annotations

import click

from taskkit.cli import context


@click.command("api-server")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="TCP port."
)
def api_server(host: str, port: int) -> None:
    """Serve the REST API under /api/v2 and the UI at / (docs at /docs).

    Create a login first with `taskkit users create NAME --role admin`.
    """
    # Lazy: keeps `taskkit --help` fast (see taskkit/cli/__init__.py).
    from taskkit.api.server import serve

    serve(context.settings(), host, port)
