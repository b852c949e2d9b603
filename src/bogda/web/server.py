"""``bogda serve``: run the web application with uvicorn."""

from __future__ import annotations

import gc
import os

from bogda.config import Settings


def freeze_startup_heap() -> None:
    """Hand everything built at start-up to the permanent generation of the cyclic garbage collector.

    Why: the application holds ~310,000 long-lived objects (modules, schema, routes, tables) once it is built, and
    every full collection walks all of them while the event loop waits. Under 200 back-to-back connections that put
    the p99 of even a fixed 10 KiB answer at 185–206 ms; with the start-up heap frozen it is 15–18 ms (measured with
    ``wrk -t1 -c200`` against the same process). Objects made later are collected as usual, less often.
    """
    gc.collect()
    gc.freeze()
    # and collect the young generations less often: a request makes a few hundred objects, nearly all freed by
    # reference counting, so the default (700) runs a collection every few requests
    gc.set_threshold(50_000, 50, 1_000)


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
    freeze_startup_heap()
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
                host=settings.gateway.host,
                port=settings.gateway.port,
                wal_dir=settings.data_dir / "hj212-wal",
                # a running platform loads the log in its own process (the acking loop keeps the GIL to itself)
                # and asks devices for missing data; servers without jobs (browser tests) keep it in a thread
                loader_mode="process" if jobs else "thread",
                gap_scan=jobs,
                database_url=settings.database_url,
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
