"""``bogda serve``: run the web application with uvicorn."""

from __future__ import annotations

import os

from bogda.config import Settings


def serve(settings: Settings, host: str, port: int) -> None:
    """Serve the API and the console on ``host:port`` until interrupted; prints the URLs first."""
    # NiceGUI reads its storage folder when imported: keep it under data_dir, not in the working directory
    os.environ.setdefault("NICEGUI_STORAGE_PATH", str((settings.data_dir / "nicegui").resolve()))
    import uvicorn

    from bogda.web.app import create_app

    app = create_app(settings)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    base = f"http://{shown}:{port}"
    print(f"bogda console: {base}/   API: {base}/api/v1/health   OpenAPI: {base}/api/v1/openapi.json", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="info")
