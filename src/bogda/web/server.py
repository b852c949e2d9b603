"""``bogda serve``: run the web application with uvicorn."""

from __future__ import annotations

import os

from bogda.config import Settings


def serve(settings: Settings, host: str, port: int, *, gateway: bool = True, jobs: bool = False) -> None:
    """Serve the API and the console on ``host:port`` until interrupted; prints the URLs first. With ``gateway``
    the HJ 212 gateway (settings ``gateway.host``/``gateway.port``) runs in the same event loop; with ``jobs`` the
    scheduler runs :data:`bogda.jobs.DEFAULT_JOBS` in a background thread (``bogda serve`` turns it on; tests that
    start a server leave it off so that nothing changes the data under them)."""
    # NiceGUI reads its storage folder when imported: keep it under data_dir, not in the working directory
    os.environ.setdefault("NICEGUI_STORAGE_PATH", str((settings.data_dir / "nicegui").resolve()))
    import uvicorn

    from bogda.web.app import create_app

    app = create_app(settings)
    if jobs:
        from bogda.jobs import start_scheduler

        app.state.scheduler = start_scheduler(app.state.store)
        print("scheduler: " + ", ".join(j.id for j in app.state.scheduler.get_jobs()), flush=True)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    base = f"http://{shown}:{port}"
    print(f"bogda console: {base}/   API: {base}/api/v1/health   OpenAPI: {base}/api/v1/openapi.json", flush=True)
    if not gateway:
        uvicorn.run(app, host=host, port=port, log_level="info")
        return
    import asyncio

    from bogda.hj212.gateway import Gateway, GatewayConfig

    async def both() -> None:
        gw = Gateway(
            GatewayConfig(
                host=settings.gateway.host, port=settings.gateway.port, wal_dir=settings.data_dir / "hj212-wal"
            ),
            app.state.store,
        )
        await gw.start()
        app.state.gateway = gw
        print(f"HJ 212 gateway: {settings.gateway.host}:{gw.port}", flush=True)
        try:
            await uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info")).serve()
        finally:
            await gw.stop()

    asyncio.run(both())
