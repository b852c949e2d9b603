"""The ``bogda`` command line (a face: it parses input, calls a service, prints the result)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table

from bogda.config import Settings

app = typer.Typer(
    help="bogda — environmental supervision and command platform (生态环境监管指挥调度平台).",
    no_args_is_help=True,
    add_completion=False,
)
registry_app = typer.Typer(
    help="Import and list places, stations, enterprises, outlets, meters and devices.", no_args_is_help=True
)
user_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
app.add_typer(registry_app, name="registry")
app.add_typer(user_app, name="user")
jobs_app = typer.Typer(help="Scheduled jobs: list them and their last runs, or run one now.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")
console = Console()
err = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option("--database-url", help="Database URL (default: BOGDA_DATABASE_URL or sqlite:///var/bogda.db)."),
]


def _settings(database_url: str | None) -> Settings:
    return Settings(database_url=database_url) if database_url else Settings()


def _store(database_url: str | None):
    from bogda.store import connect

    return connect(_settings(database_url).database_url)


@app.command()
def init(database_url: DbOption = None) -> None:
    """Create the database (or bring it to the newest schema) and the default grid levels."""
    from bogda.registry.places import seed_levels

    st = _store(database_url)
    with st.begin() as conn:
        seed_levels(conn)
    console.print(f"[green]database ready[/green]: {st.engine.url.render_as_string(hide_password=True)}")


@app.command()
def demo(
    database_url: DbOption = None,
    host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8080,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the console after building.")] = True,
    days: Annotated[int, typer.Option(help="Days of simulated hourly data to (re)generate.")] = 7,
    year: Annotated[
        bool, typer.Option("--year/--no-year", help="Fill the ledgers, daily AQI and grid tasks of the demo year 2025.")
    ] = True,
    episode: Annotated[
        bool,
        typer.Option(
            "--episode/--no-episode",
            help="End the simulated data with a 4-day heavy-pollution build-up, so that warnings are proposed.",
        ),
    ] = True,
) -> None:
    """Build the Changji demo region (real boundaries and national stations, simulated enterprises and data),
    fill the demo year's ledgers and grid tasks, and serve the console."""
    from bogda.demo.region import build_demo_region
    from bogda.demo.simulate import DEMO_BUILD_UP_HOURS, load_recent
    from bogda.monitoring.aqi_tables import update_aqi
    from bogda.registry.people import generate_password, reset_password
    from bogda.timeutil import now_utc

    settings = _settings(database_url)
    st = _store(database_url)
    with console.status("building the Changji demo region (boundaries, 3 km grid cells, stations, enterprises)…"):
        region = build_demo_region(st)
    with console.status(f"simulating {days} days of hourly station data…"):
        now = now_utc()
        n = load_recent(st, region.stations, days=days, now=now, build_up_hours=DEMO_BUILD_UP_HOURS if episode else 0)
        # the simulation writes below the ingest path, which would mark the days for the AQI job: compute them here
        update_aqi(st, start=now - timedelta(days=days + 1), end=now)
    filled = None
    if year:
        from bogda.demo.year import fill_demo_year

        with console.status("demo year 2025: ledgers, daily AQI, grid tasks…") as status:
            filled = fill_demo_year(st, data_dir=settings.data_dir, progress=lambda m: status.update(m))
    password = generate_password()
    with st.begin() as conn:
        reset_password(conn, "admin", password, must_change=True)
    from sqlalchemy import func, select

    from bogda.store.schema import place, site

    with st.engine.connect() as conn:
        kinds = dict(conn.execute(select(place.c.kind, func.count()).group_by(place.c.kind)).all())
        sites = dict(conn.execute(select(site.c.kind, func.count()).group_by(site.c.kind)).all())
    rows = [
        ("counties 县市", kinds.get("county", 0)),
        ("townships 乡镇", kinds.get("township", 0)),
        ("grid cells 网格", kinds.get("grid_cell", 0)),
        ("air stations 空气站", sites.get("air_station", 0)),
        ("enterprises 企业", sites.get("enterprise", 0)),
        ("outlets 排放口", sites.get("outlet", 0)),
        ("data loggers 数采仪", sites.get("device", 0)),
        ("meters 电表", sites.get("meter", 0)),
        ("values written 写入数据", n),
    ]
    table = Table(title="Changji demo region 昌吉州演示区域")
    table.add_column("what")
    table.add_column("count", justify="right")
    for what, count in rows:
        table.add_row(what, str(count))
    console.print(table)
    if filled is not None:
        for what, n in filled.written.items():
            console.print(f"demo year 演示年度 {what}: {n}")
        for what in filled.skipped:
            console.print(f"demo year 演示年度: kept {what}")
        for what, (wall, cpu) in filled.seconds.items():
            console.print(f"demo year 演示年度 {what}: {wall:.1f} s (CPU {cpu:.1f} s)")
    console.print(f"console 控制台: [bold]http://{host}:{port}[/bold]")
    console.print(f"login 登录: [bold]admin[/bold]  one-time password 一次性密码: [bold]{password}[/bold]")
    st.dispose()
    if serve:
        from bogda.web.server import serve as run

        run(settings, host, port, jobs=True)


@app.command()
def serve(
    database_url: DbOption = None,
    host: Annotated[str | None, typer.Option(help="Address to serve on (default from settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to serve on (default from settings).")] = None,
) -> None:
    """Serve the REST API and the operator console."""
    from bogda.web.server import serve as run

    settings = _settings(database_url)
    _store(database_url).dispose()  # migrate before serving
    run(settings, host or settings.web.host, port or settings.web.port, jobs=True)


@registry_app.command("import")
def registry_import(
    entity: Annotated[
        str, typer.Argument(help="stations, enterprises, outlets, meters, devices, townships or places (GeoJSON).")
    ],
    path: Annotated[Path, typer.Argument(help="CSV, XLSX or GeoJSON file.", exists=False)],
    database_url: DbOption = None,
) -> None:
    """Import a file into the registry. Every row is checked first; if any row is wrong nothing is written and
    each problem is listed with its line and column."""
    from bogda.registry.importers import ImportRejected, import_file

    try:
        report = import_file(_store(database_url), entity, path)
    except ImportRejected as exc:
        err.print(f"[red]rejected[/red] {path}: nothing was imported; {len(exc.errors)} problem(s):")
        for e in exc.errors:
            err.print(f"  {e}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    except ValueError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"[green]imported[/green] {report.written} {entity} from {path}")


@registry_app.command("places")
def registry_places(
    kind: Annotated[
        str | None, typer.Option(help="Only this kind (prefecture, county, township, park, grid_cell).")
    ] = None,
    database_url: DbOption = None,
) -> None:
    """List places (without grid cells unless asked for)."""
    from bogda.registry.places import list_places

    kinds = [kind] if kind else ["prefecture", "county", "township", "park", "special"]
    rows = list_places(_store(database_url), kinds=kinds, with_geometry=False)
    table = Table()
    for col in ("code", "name", "level", "kind", "lon", "lat"):
        table.add_column(col)
    for p in rows:
        table.add_row(p.code, p.name, str(p.level), p.kind, f"{p.lon or 0:.4f}", f"{p.lat or 0:.4f}")
    console.print(table)


@registry_app.command("sites")
def registry_sites(
    kind: Annotated[
        str, typer.Option(help="Site kind: air_station, water_station, enterprise, outlet, meter, device.")
    ] = "air_station",
    database_url: DbOption = None,
) -> None:
    """List sites of one kind."""
    from sqlalchemy import select

    from bogda.store.schema import place, site

    st = _store(database_url)
    with st.engine.connect() as conn:
        rows = conn.execute(
            select(site.c.code, site.c.name, site.c.lon, site.c.lat, place.c.name.label("place"), site.c.simulated)
            .outerjoin(place, place.c.id == site.c.place_id)
            .where(site.c.kind == kind)
            .order_by(site.c.code)
        ).all()
    table = Table()
    for col in ("code", "name", "lon", "lat", "place", "simulated"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r.code, r.name, f"{r.lon or 0:.4f}", f"{r.lat or 0:.4f}", r.place or "", "yes" if r.simulated else ""
        )
    console.print(table)


@user_app.command("add")
def user_add(
    login: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[
        list[str],
        typer.Option(
            "--role",
            help="Role (repeatable): admin, prefecture_operator, county_operator, grid_member, "
            "enforcement_officer, enterprise_user, viewer.",
        ),
    ],
    place: Annotated[str | None, typer.Option(help="Code of the place the user is scoped to (e.g. 652301).")] = None,
    enterprise: Annotated[str | None, typer.Option(help="Enterprise code (enterprise users).")] = None,
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    database_url: DbOption = None,
) -> None:
    """Create a user with a generated one-time password (printed once; it must be changed at first login)."""
    from sqlalchemy import select

    from bogda.registry.people import add_user, generate_password
    from bogda.registry.sites import site_id_by_code
    from bogda.store.schema import place as place_t

    st = _store(database_url)
    password = generate_password()
    try:
        with st.begin() as conn:
            place_id = None
            if place:
                place_id = conn.execute(select(place_t.c.id).where(place_t.c.code == place)).scalar()
                if place_id is None:
                    raise ValueError(f"place {place} is not in the registry")
            ent_id = None
            if enterprise:
                ent_id = site_id_by_code(conn, "enterprise", enterprise)
                if ent_id is None:
                    raise ValueError(f"enterprise {enterprise} is not in the registry")
            add_user(
                conn,
                login=login,
                password=password,
                roles=role,
                display_name=name,
                scope_place_id=place_id,
                scope_enterprise_id=ent_id,
                must_change_password=True,
            )
    except ValueError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"[green]user {login} created[/green]; one-time password: [bold]{password}[/bold]")


@user_app.command("reset-password")
def user_reset_password(
    login: Annotated[str, typer.Argument(help="Login name.")], database_url: DbOption = None
) -> None:
    """Give a user a new one-time password (printed once)."""
    from bogda.registry.people import generate_password, reset_password

    password = generate_password()
    try:
        with _store(database_url).begin() as conn:
            reset_password(conn, login, password)
    except ValueError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"new one-time password for {login}: [bold]{password}[/bold]")


# --- HJ 212 gateway and simulator (hj212.md) ----------------------------------------------------------------------
hj212_app = typer.Typer(
    help="HJ 212 data loggers: simulator, log loader, commands, gap scan, unknown devices.", no_args_is_help=True
)
app.add_typer(hj212_app, name="hj212")


def gateway_config(settings: Settings, host: str | None = None, port: int | None = None, **kw):
    """The gateway's configuration from the settings (write-ahead log under ``data_dir/hj212-wal``)."""
    from bogda.hj212.gateway import GatewayConfig

    return GatewayConfig(
        host=host or settings.gateway.host,
        port=settings.gateway.port if port is None else port,
        wal_dir=settings.data_dir / "hj212-wal",
        **kw,
    )


@app.command()
def gateway(
    database_url: DbOption = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on (default from settings: 0.0.0.0).")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port (default from settings: 6001).")] = None,
    gateway_id: Annotated[str, typer.Option(help="Name of this gateway process (one write-ahead log each).")] = "gw1",
    wal_dir: Annotated[Path | None, typer.Option(help="Write-ahead log folder (default data_dir/hj212-wal).")] = None,
    time_sync: Annotated[bool, typer.Option("--time-sync/--no-time-sync", help="Send 1012 on connect.")] = True,
    loader: Annotated[
        bool, typer.Option("--loader/--no-loader", help="Load the log into the database (off: log only).")
    ] = True,
    loader_mode: Annotated[
        str, typer.Option(help="process: the loader runs as a supervised child process; thread: in this process.")
    ] = "process",
    gap_scan: Annotated[
        bool, typer.Option("--gap-scan/--no-gap-scan", help="Queue recalls for missing data hourly at :20.")
    ] = True,
    heartbeat_reply: Annotated[str, typer.Option(help="Answer to 9021/9015 heartbeats: none, 9014 or echo.")] = "none",
    unknown_mn: Annotated[
        str | None,
        typer.Option(
            help="Unknown-device policy: archive (default), reject, quarantine or pending (see docs/hj212.md)."
        ),
    ] = None,
) -> None:
    """Run the HJ 212 gateway: data loggers connect here over TCP (see docs/hj212.md)."""
    import asyncio
    import logging

    from bogda.hj212.gateway import serve_gateway

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings(database_url)
    st = _store(database_url)
    if loader_mode not in ("process", "thread"):
        err.print(f"[red]error[/red] --loader-mode must be process or thread, not {loader_mode!r}")
        raise typer.Exit(2)
    cfg = gateway_config(
        settings, host, port, gateway_id=gateway_id, time_sync_on_connect=time_sync, loader=loader,
        loader_mode=loader_mode, database_url=settings.database_url, gap_scan=gap_scan, heartbeat_reply=heartbeat_reply,
    )  # fmt: skip
    if unknown_mn is not None:
        cfg.unknown_mn_policy = unknown_mn
    try:
        cfg.validate()
    except ValueError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from None
    if wal_dir is not None:
        cfg.wal_dir = wal_dir
    console.print(f"HJ 212 gateway on {cfg.host}:{cfg.port}, write-ahead log {cfg.wal_dir}")
    try:
        asyncio.run(serve_gateway(cfg, st))
    except KeyboardInterrupt:
        pass
    finally:
        st.dispose()


@hj212_app.command("loader")
def hj212_loader(
    database_url: DbOption = None,
    wal_dir: Annotated[Path | None, typer.Option(help="Write-ahead log folder (default data_dir/hj212-wal).")] = None,
    gateway_id: Annotated[str, typer.Option(help="Gateway whose log this is.")] = "gw1",
    batch: Annotated[int, typer.Option(help="Log records per transaction at most.")] = 5000,
    interval: Annotated[float, typer.Option(help="Pause when the log is drained [s].")] = 0.2,
    once: Annotated[bool, typer.Option(help="Drain the log and exit (the gateway may be stopped).")] = False,
    parent_pid: Annotated[int | None, typer.Option(hidden=True)] = None,
) -> None:
    """Load a gateway's write-ahead log into the database (bogda gateway starts this itself; run it alone to drain
    a log, e.g. after a crash, with --once)."""
    import logging

    from bogda.hj212.loader_process import LoaderOptions, main_child

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings(database_url)
    st = _store(database_url)
    options = LoaderOptions(
        wal_dir=wal_dir or settings.data_dir / "hj212-wal", gateway_id=gateway_id, batch=batch, interval_s=interval,
        parent_pid=parent_pid, exit_when_idle=once, wait_for_durable=not once,
    )  # fmt: skip
    try:
        stats = main_child(st, options)
    finally:
        st.dispose()
    if stats is not None and parent_pid is None:
        console.print(
            f"loaded {stats.records:,} log records: {stats.raw_rows:,} raw frames, {stats.observations:,} "
            f"observations, {stats.duplicates:,} duplicates, up to seq {stats.last_seq:,}"
        )


@hj212_app.command("command")
def hj212_command(
    mn: Annotated[str, typer.Argument(help="Device MN.")],
    cn: Annotated[str, typer.Argument(help="Command code: 1012 time sync, 2051/2061/2031 recall, 1000, 1062, 1064…")],
    begin: Annotated[str | None, typer.Option(help="Recall: first interval start (Beijing time if no zone).")] = None,
    end: Annotated[str | None, typer.Option(help="Recall: last interval start.")] = None,
    field: Annotated[
        list[str] | None, typer.Option(help="CP field KEY=VALUE (repeatable), e.g. RtdInterval=60.")
    ] = None,
    by: Annotated[str, typer.Option(help="Who asks (kept with the command).")] = "cli",
    database_url: DbOption = None,
) -> None:
    """Queue a command for a data logger; the gateway holding its connection sends it (see `bogda hj212 commands`)."""
    from bogda.hj212.command_store import enqueue_command
    from bogda.timeutil import parse_time

    params: dict = {}
    try:
        if begin or end:
            if not (begin and end):
                raise ValueError("a recall needs both --begin and --end")
            params = {"begin": parse_time(begin).isoformat(), "end": parse_time(end).isoformat()}
        if field:
            pairs = [f.split("=", 1) for f in field]
            if any(len(p) != 2 for p in pairs):
                raise ValueError(f"--field must be KEY=VALUE: {field}")
            params["fields"] = dict(pairs)
        st = _store(database_url)
        with st.begin() as conn:
            cid = enqueue_command(conn, mn, cn, params, source="operator", requested_by=by)
    except ValueError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"command {cid} queued: {cn} for {mn}")


@hj212_app.command("commands")
def hj212_commands(
    mn: Annotated[str | None, typer.Option(help="Only this device.")] = None,
    state: Annotated[str | None, typer.Option(help="Only this state (queued, sent, done, timed_out …).")] = None,
    limit: Annotated[int, typer.Option(help="Rows at most.")] = 50,
    database_url: DbOption = None,
) -> None:
    """List platform commands and their state, newest first."""
    from bogda.hj212.command_store import list_commands

    with _store(database_url).engine.connect() as conn:
        rows = list_commands(conn, mns=[mn] if mn else None, states=[state] if state else None, limit=limit)
    table = Table(title="HJ 212 commands")
    for col in ("id", "mn", "cn", "source", "state", "error", "attempts", "created", "finished"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r["id"]), r["mn"], r["cn"], r["source"], r["state"], r["error"] or "", str(r["attempts"]),
            f"{r['created_at']:%Y-%m-%d %H:%M:%S}", f"{r['finished_at']:%H:%M:%S}" if r["finished_at"] else "",
        )  # fmt: skip
    console.print(table)


@hj212_app.command("gap-scan")
def hj212_gap_scan(
    hours: Annotated[float, typer.Option(help="Look-back window [h].")] = 48.0,
    mn: Annotated[list[str] | None, typer.Option(help="Only these devices (repeatable).")] = None,
    dry_run: Annotated[bool, typer.Option(help="Only show what would be queued.")] = False,
    database_url: DbOption = None,
) -> None:
    """Find missing minute/hour records per device and parameter and queue recalls (2051/2061) for them."""
    from datetime import timedelta

    from bogda.hj212.gaps import gap_scan

    report = gap_scan(_store(database_url), lookback=timedelta(hours=hours), mns=mn, dry_run=dry_run)
    console.print(
        f"{report.devices} devices, {report.series} series, {report.missing_slots} missing slots; "
        f"{len(report.queued)} recalls {'planned' if dry_run else 'queued'}, {report.exhausted_slots} slots out of "
        f"tries, {report.in_flight_slots} in flight, {report.skipped_concurrency} over the concurrency bound"
    )
    for q in report.queued:
        console.print(
            f"  {q['cn']} {q['mn']} {q['begin']} … {q['end']}" + (f"  {q['error']}" if q.get("error") else "")
        )


@hj212_app.command("pending")
def hj212_pending(
    approve: Annotated[str | None, typer.Option(help="Approve this MN (with --site).")] = None,
    reject: Annotated[str | None, typer.Option(help="Reject this MN.")] = None,
    site: Annotated[int | None, typer.Option(help="Station/outlet site id the approved device reports for.")] = None,
    by: Annotated[str, typer.Option(help="Who decides (kept with the decision).")] = "cli",
    database_url: DbOption = None,
) -> None:
    """Unknown data loggers waiting for approval (gateway policy `pending`): list, approve onto a site, reject."""
    from bogda.hj212.pending import approve_pending, list_pending, reject_pending

    st = _store(database_url)
    try:
        with st.begin() as conn:
            if approve:
                if site is None:
                    raise ValueError("--approve needs --site (the station or outlet the device reports for)")
                sid = approve_pending(conn, approve, site, by=by)
                console.print(f"{approve} registered as device site {sid}")
            elif reject:
                reject_pending(conn, reject, by=by)
                console.print(f"{reject} rejected")
            rows = list_pending(conn)
    except ValueError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from None
    table = Table(title="HJ 212 unknown devices waiting for approval")
    for col in ("mn", "first seen", "last seen", "peer", "ST", "protocol", "frames"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["mn"], f"{r['first_seen']:%Y-%m-%d %H:%M}", f"{r['last_seen']:%Y-%m-%d %H:%M}",
                      r["peer"] or "", r["st"] or "", r["protocol"] or "", str(r["frames"]))  # fmt: skip
    console.print(table)


@hj212_app.command("replay")
def hj212_replay(
    from_: Annotated[str, typer.Option("--from", help="Received from (Beijing time if no zone).")],
    to: Annotated[str, typer.Option(help="Received before (Beijing time if no zone).")],
    mn: Annotated[list[str] | None, typer.Option(help="Only these devices (repeatable).")] = None,
    database_url: DbOption = None,
) -> None:
    """Re-parse archived frames with the current registry (a newly registered MN, fixed PW, crc_mode, aliases) and
    store their values idempotently."""
    from bogda.hj212.replay import replay_frames
    from bogda.timeutil import parse_time

    try:
        begin, end = parse_time(from_), parse_time(to)
    except ValueError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from None
    report = replay_frames(_store(database_url), begin, end, mns=mn)
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(report.skipped.items())) or "none"
    console.print(
        f"{report.frames} frames read, {report.replayed} replayed, {report.observations_written} new observations; "
        f"skipped: {skipped}"
    )


@hj212_app.command("simulate")
def hj212_simulate(
    database_url: DbOption = None,
    host: Annotated[str, typer.Option(help="Gateway address: loopback only (127.0.0.1).")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Gateway port (default from settings).")] = None,
    devices: Annotated[int, typer.Option(help="Number of simulated data loggers (≤ 20 000).")] = 10,
    kinds: Annotated[str, typer.Option(help="Shares of device kinds.")] = "cems:60,wastewater:30,air:10",
    version: Annotated[str, typer.Option(help="2005, 2017, 2025 or mix.")] = "2017",
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same bytes).")] = 0,
    start: Annotated[str | None, typer.Option(help="Simulated start, Beijing time (default: now - duration).")] = None,
    duration: Annotated[float, typer.Option(help="Simulated minutes of uploads to send.")] = 60.0,
    rtd_interval: Annotated[int, typer.Option(help="Real-time interval [s].")] = 30,
    min_interval: Annotated[int, typer.Option(help="Minute-data interval [min].")] = 10,
    max_rate: Annotated[float | None, typer.Option(help="Frames per second at most.")] = None,
    max_frames: Annotated[int, typer.Option(help="Frames at most (bound).")] = 200_000,
    timeout: Annotated[float, typer.Option(help="Wall-clock seconds at most (bound).")] = 300.0,
    fault: Annotated[str, typer.Option(help="Fault probabilities, e.g. crc=0.01,split=0.05.")] = "",
    answers: Annotated[str, typer.Option(help="Answer behaviour, e.g. qnrtn=2,silent=0.5.")] = "",
    over_time: Annotated[float, typer.Option(help="OverTime before a re-send [s].")] = 10.0,
    register: Annotated[bool, typer.Option(help="Register the devices (MN, PW) in the registry first.")] = False,
    manifest: Annotated[Path | None, typer.Option(help="Write the manifest (JSONL) here.")] = None,
    acked: Annotated[Path | None, typer.Option(help="Write the acked log (JSONL) here.")] = None,
) -> None:
    """Drive the gateway with simulated data loggers (CEMS, waste water, air) on the loopback interface."""
    import asyncio
    import json
    from datetime import UTC, datetime, timedelta

    from bogda.hj212.simulator import AnswerConfig, FaultConfig, make_fleet, run_devices
    from bogda.timeutil import parse_time

    if host not in ("127.0.0.1", "localhost", "::1"):
        err.print("[red]error[/red] the simulator connects to the loopback interface only")
        raise typer.Exit(2)
    settings = _settings(database_url)
    fleet = make_fleet(
        devices, kinds=kinds, version=version, seed=seed, rtd_interval_s=rtd_interval, min_interval_min=min_interval
    )
    if register:
        from bogda.hj212.registration import register_fleet

        st = _store(database_url)
        with console.status(f"registering {devices} devices…"):
            n = register_fleet(st, fleet)
        st.dispose()
        console.print(f"registered {n} new devices")
    t0 = parse_time(start) if start else datetime.now(UTC) - timedelta(minutes=duration)
    report = asyncio.run(
        run_devices(
            host,
            port or settings.gateway.port,
            fleet,
            start=t0,
            end=t0 + timedelta(minutes=duration),
            faults=FaultConfig.parse(fault),
            answers=AnswerConfig.parse(answers),
            seed=seed,
            max_rate=max_rate,
            max_frames=max_frames,
            timeout_s=timeout,
            over_time_s=over_time,
        )
    )
    for path, rows in ((manifest, report.manifest), (acked, report.acked_log)):
        if path is not None:
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    table = Table(title="HJ 212 simulator")
    table.add_column("what")
    table.add_column("count", justify="right")
    for what in ("connections", "sent", "acked", "resent", "unacked", "missing_acks", "unexpected_acks", "commands"):
        table.add_row(what, str(getattr(report, what)))
    console.print(table)
    if report.missing_acks:
        err.print(f"[red]{report.missing_acks} frames were not acknowledged although no fault was injected[/red]")
        raise typer.Exit(1)


# --- ingest and monitoring (monitoring.md) ----------------------------------------------------------------------

ingest_app = typer.Typer(
    help="Load monitoring files (CNEMC daily files, pm25.in-style, aqistudy, PRSA, water samples).",
    no_args_is_help=True,
)
monitoring_app = typer.Typer(
    help="AQI tables, completeness, assessments, alarms and exports of the station network.", no_args_is_help=True
)
app.add_typer(ingest_app, name="ingest")
app.add_typer(monitoring_app, name="monitoring")

StationListOption = Annotated[
    Path | None,
    typer.Option("--stations", help="Station list (quotsoft 站点列表 format) to register unknown codes from."),
]
WholeBatchOption = Annotated[
    bool,
    typer.Option(
        "--whole-batch",
        help="Refuse a whole file with an unknown station or a conflicting duplicate (forecast.md §6): nothing "
        "stored, the file and its errors copied to <data_dir>/quarantine/observations, exit code 1. Default: bad "
        "rows are rejected and the rest loads (monitoring.md §5).",
    ),
]


def _print_load(report: object, *, show: int = 20) -> None:
    from bogda.monitoring.load import LoadReport

    assert isinstance(report, LoadReport)
    table = Table(title=f"{report.file} ({report.source})")
    table.add_column("what")
    table.add_column("count", justify="right")
    for what, n in (
        ("values read", report.values),
        ("inserted", report.inserted),
        ("corrected (old versions kept)", report.corrected),
        ("unchanged", report.unchanged),
        ("rejected rows/cells/columns", len(report.rejected)),
        ("stations registered", len(report.created_sites)),
        ("placeholder stations", len(report.placeholders)),
        ("QA suspect", report.flagged.get("suspect", 0)),
        ("QA invalid", report.flagged.get("invalid", 0)),
        ("hours with an incomplete row set", report.incomplete_row_sets),
        ("station-days marked for AQI", report.dirty_days),
    ):
        table.add_row(what, f"{n:,}")
    console.print(table)
    for r in report.rejected[:show]:
        err.print(f"  [yellow]rejected[/yellow] {r.file}:{r.line or '-'} {r.column or ''}: {r.reason}")
    if len(report.rejected) > show:
        err.print(f"  … and {len(report.rejected) - show} more")
    if report.quarantined is not None:
        err.print(
            f"[red]quarantined[/red] {report.file}: whole batch refused (unknown station or conflicting duplicate), "
            "nothing stored"
        )
        # soft_wrap: a path broken over two lines cannot be copied
        err.print(f"  batch  {report.quarantined}\n  errors {report.quarantined}.errors.json", soft_wrap=True)


def _ingest(
    database_url: str | None, paths: list[Path], reader: object, *, batch: str = "rows", **kwargs: object
) -> None:
    from bogda.monitoring.aqi_tables import update_aqi
    from bogda.monitoring.ingest import FileRefused
    from bogda.monitoring.load import load_result

    st = _store(database_url)
    failed = quarantined = 0
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), console=console) as progress:
        task = progress.add_task("loading", total=len(paths))
        for path in paths:
            progress.update(task, description=f"reading {path.name}")
            try:
                result = reader(path)  # type: ignore[operator]
            except (FileRefused, OSError) as exc:
                err.print(f"[red]refused[/red] {exc}")
                failed += 1
                progress.advance(task)
                continue
            progress.update(task, description=f"writing {path.name}")
            report = load_result(st, result, batch=batch, raw=path, **kwargs)  # type: ignore[arg-type]
            _print_load(report)
            quarantined += report.quarantined is not None
            progress.advance(task)
        progress.update(task, description="updating the AQI tables")
        up = update_aqi(st)
    console.print(
        f"AQI: {up.hourly_rows:,} hourly and {up.daily_rows:,} daily rows ({up.stations} stations, {up.areas} areas)"
    )
    if quarantined:
        err.print(f"[red]{quarantined} of {len(paths)} files quarantined[/red] (--whole-batch)")
    if failed or quarantined:
        raise typer.Exit(1)


@ingest_app.command("cnemc")
def ingest_cnemc(
    paths: Annotated[
        list[Path], typer.Argument(help="CNEMC daily files (date, hour, type, <station codes>), .csv or .gz.")
    ],
    stations: StationListOption = None,
    register_unknown: Annotated[
        bool, typer.Option("--register-unknown", help="Register codes nobody knows as placeholder stations.")
    ] = False,
    whole_batch: WholeBatchOption = False,
    database_url: DbOption = None,
) -> None:
    """Load CNEMC hourly station files. Hours are labelled by their END in Beijing time (row H = [H-1, H)); every
    rejected cell is listed with its line and reason; the AQI tables are updated at the end."""
    from bogda.monitoring.ingest import read_cnemc, read_stations
    from bogda.monitoring.stations import station_sites

    sl = read_stations(stations) if stations else None
    known = set(station_sites(_store(database_url))["code"].to_list())
    if sl is not None:
        known |= set(sl["station_code"].to_list())
    _ingest(
        database_url,
        paths,
        lambda p: read_cnemc(p, known_codes=known, register_unknown=register_unknown),
        batch="whole" if whole_batch else "rows",
        station_list=sl,
        register_unknown=register_unknown,
    )


@ingest_app.command("pm25in")
def ingest_pm25in(
    paths: Annotated[list[Path], typer.Argument(help="pm25.in-style hourly files.")],
    stations: Annotated[Path, typer.Option("--stations", help="Station list to map station names to codes.")],
    whole_batch: WholeBatchOption = False,
    database_url: DbOption = None,
) -> None:
    """Load pm25.in-style hourly station files (stations matched by city and name)."""
    from bogda.monitoring.ingest import read_pm25in, read_stations

    sl = read_stations(stations)
    batch = "whole" if whole_batch else "rows"
    _ingest(database_url, paths, lambda p: read_pm25in(p, sl), batch=batch, station_list=sl)


@ingest_app.command("aqistudy")
def ingest_aqistudy(
    paths: Annotated[list[Path], typer.Argument(help="aqistudy daily city CSV files (city, date, aqi, pm25 …).")],
    whole_batch: WholeBatchOption = False,
    database_url: DbOption = None,
) -> None:
    """Load aqistudy daily city files: each city's daily means and its published AQI (kept as published only, not
    the HJ 633 daily AQI); Urumqi, Shihezi and Wujiaqu become external places."""
    from bogda.monitoring.ingest import read_aqistudy

    _ingest(database_url, paths, read_aqistudy, batch="whole" if whole_batch else "rows")


@ingest_app.command("prsa")
def ingest_prsa(
    paths: Annotated[list[Path], typer.Argument(help="PRSA Beijing hourly files (CO in µg/m³, converted).")],
    stations: StationListOption = None,
    whole_batch: WholeBatchOption = False,
    database_url: DbOption = None,
) -> None:
    """Load PRSA Beijing multi-site files (hours labelled by their START)."""
    from bogda.monitoring.ingest import read_prsa

    _ingest(
        database_url,
        paths,
        lambda p: read_prsa(p, weather=False),
        batch="whole" if whole_batch else "rows",
        station_list=stations,
        register_unknown=True,
    )


@ingest_app.command("water")
def ingest_water(
    paths: Annotated[list[Path], typer.Argument(help="Water samples CSV (section_code, sampled_at, item, value …).")],
    database_url: DbOption = None,
) -> None:
    """Load water-quality samples of water stations (below DL → ½ DL)."""
    from bogda.monitoring.water import read_water_samples

    _ingest(database_url, paths, read_water_samples, register_unknown=True, kind="water_station")


@ingest_app.command("stations")
def ingest_stations(
    path: Annotated[Path, typer.Argument(help="Station list (quotsoft 站点列表 format, English or Chinese headers).")],
    database_url: DbOption = None,
) -> None:
    """Register every station of a station list (name, position, control flag; place from the boundaries)."""
    from bogda.monitoring.stations import register_station_list

    n = register_station_list(_store(database_url), path)
    console.print(f"[green]registered[/green] {n} new stations from {path}")


def _when(text: str) -> datetime:
    from bogda.timeutil import parse_time

    return parse_time(text)


@monitoring_app.command("recompute")
def monitoring_recompute(
    start: Annotated[str, typer.Option("--from", help="First day (Beijing), e.g. 2019-01-01.")],
    end: Annotated[str, typer.Option("--to", help="Day after the last (Beijing), e.g. 2019-02-01.")],
    standard: Annotated[str | None, typer.Option(help="2012 or 2026 for every date (default: by date).")] = None,
    hourly: Annotated[bool, typer.Option("--hourly/--daily-only", help="Also recompute the hourly AQI.")] = True,
    places: Annotated[
        list[str] | None,
        typer.Option("--place", help="Only these stations or areas (station, county, park or prefecture code)."),
    ] = None,
    database_url: DbOption = None,
) -> None:
    """Recompute the hourly and daily AQI of every station and area over a window (idempotent); --place limits
    it to the stations of a place and the areas they belong to."""
    from bogda.monitoring.aqi_tables import update_aqi
    from bogda.monitoring.stations import sites_of_places

    st = _store(database_url)
    sites = None
    if places:
        try:
            sites = sites_of_places(st, places)
        except LookupError as exc:
            err.print(f"[red]error[/red] {exc}")
            raise typer.Exit(2) from None
    with console.status("recomputing AQI…"):
        up = update_aqi(st, start=_when(start), end=_when(end), standard=standard, hourly=hourly, sites=sites)
    console.print(f"{up.hourly_rows:,} hourly and {up.daily_rows:,} daily rows in {up.seconds.get('total', 0):.1f} s")


@monitoring_app.command("status")
def monitoring_status(
    at: Annotated[str | None, typer.Option(help="Reference time (default now).")] = None, database_url: DbOption = None
) -> None:
    """Every station now: online/offline, newest hourly AQI and level."""
    from bogda.monitoring.status import stations_status

    df = stations_status(_store(database_url), now=_when(at) if at else None)
    table = Table(title="stations 站点状态")
    for c in ("code", "name", "county_name", "status", "aqi", "category_zh", "primary_pollutant", "silent_hours"):
        table.add_column(c)
    for row in df.select(
        "code", "name", "county_name", "status", "aqi", "category_zh", "primary_pollutant", "silent_hours"
    ).iter_rows():
        table.add_row(*["" if v is None else str(v) for v in row])
    console.print(table)


@monitoring_app.command("completeness")
def monitoring_completeness(
    start: Annotated[str, typer.Option("--from", help="First day (Beijing).")],
    end: Annotated[str, typer.Option("--to", help="Day after the last (Beijing).")],
    database_url: DbOption = None,
) -> None:
    """Completeness (有效率) per station over a window, stored per station and day."""
    from bogda.monitoring.status import completeness_report

    with console.status("counting valid hours…"):
        _, summary = completeness_report(_store(database_url), start=_when(start), end=_when(end))
    table = Table(title="completeness 有效率")
    for c in summary.columns:
        table.add_column(c)
    for row in summary.iter_rows():
        table.add_row(*[str(v) for v in row])
    console.print(table)


@monitoring_app.command("assess")
def monitoring_assess(
    start: Annotated[str, typer.Option("--from", help="First day (Beijing).")],
    end: Annotated[str, typer.Option("--to", help="Day after the last (Beijing).")],
    period: Annotated[str, typer.Option(help="day, month, quarter, year or custom.")] = "month",
    database_url: DbOption = None,
) -> None:
    """Assess stations, counties and the prefecture (good days, means, percentiles, composite index, ranks)."""
    from bogda.monitoring.assessment import assess_store

    with console.status("assessing…"):
        res = assess_store(_store(database_url), start=_when(start), end=_when(end), period=period)
    console.print(f"{res.height:,} assessment figures stored for {res['period'].n_unique()} period(s)")


@monitoring_app.command("alarms")
def monitoring_alarms(
    at: Annotated[str | None, typer.Option(help="Hour to evaluate (start, default: the last complete hour).")] = None,
    database_url: DbOption = None,
) -> None:
    """Run the same-day alarm rules once (findings only; no task is created here)."""
    from bogda.monitoring.alarms import run_alarms

    run = run_alarms(_store(database_url), at=_when(at) if at else None)
    console.print(
        f"{len(run.created)} new, {len(run.updated)} updated, {len(run.escalated)} escalated, "
        f"{len(run.suppressed)} in cool-down, {len(run.resolved)} resolved; {len(run.held)} held for quiet hours"
    )


@monitoring_app.command("export")
def monitoring_export(
    kind: Annotated[str, typer.Argument(help="series, aqi_hourly, aqi_daily, completeness or assessment.")],
    out: Annotated[Path, typer.Argument(help="Output file (.csv, .xlsx or .parquet).")],
    start: Annotated[str, typer.Option("--from", help="Start (Beijing day or ISO time).")],
    end: Annotated[str, typer.Option("--to", help="End, exclusive.")],
    sites: Annotated[list[str] | None, typer.Option("--site", help="Station or area code (repeatable).")] = None,
    wide: Annotated[bool, typer.Option(help="Wide layout (series only).")] = False,
    encoding: Annotated[str, typer.Option(help="CSV encoding: utf-8-sig (default) or gb18030.")] = "utf-8-sig",
    database_url: DbOption = None,
) -> None:
    """Export a series, AQI table, completeness or assessment with units, interval convention and flags."""
    from bogda.monitoring.exports import export

    fmt = out.suffix.lstrip(".").lower()
    query = {"kind": kind, "start": start, "end": end, "sites": sites, "wide": wide, "encoding": encoding}
    with console.status(f"exporting {kind}…"):
        files = export(_store(database_url), query, out, fmt, encoding=encoding)
    for f in files:
        console.print(f"[green]wrote[/green] {f}")


dust_app = typer.Typer(
    help="Sand/dust days (沙尘天气): official days from the national list, candidate days from the PM10 rule.",
    no_args_is_help=True,
)
monitoring_app.add_typer(dust_app, name="dust")


@dust_app.command("record")
def dust_record(
    place: Annotated[str, typer.Option("--place", help="Place code, e.g. 652300 (the prefecture) or a county.")],
    days: Annotated[list[str], typer.Option("--date", help="Beijing date YYYY-MM-DD (repeatable).")],
    source: Annotated[str, typer.Option(help="The notice or list the days come from (required).")],
    note: Annotated[str | None, typer.Option(help="Free text kept with the days.")] = None,
    database_url: DbOption = None,
) -> None:
    """Record official dust days of a place (they drop PM10/PM2.5 in the dust-excluded assessments)."""
    from datetime import date as _date

    from bogda.monitoring.dust import record_official

    try:
        parsed = [_date.fromisoformat(d) for d in days]
        rep = record_official(_store(database_url), place, parsed, source=source, note=note, by="cli")
    except ValueError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"official dust days: {rep.written} new, {rep.upgraded} upgraded from candidate")


@dust_app.command("import")
def dust_import(
    path: Annotated[Path, typer.Argument(help="CSV list: place_code, date[, source, note].")],
    database_url: DbOption = None,
) -> None:
    """Import the bureau's list of official dust days; bad rows are listed with line and reason."""
    from bogda.monitoring.dust import import_official
    from bogda.monitoring.ingest import FileRefused

    try:
        rep = import_official(_store(database_url), path, by="cli")
    except (FileRefused, OSError) as exc:
        err.print(f"[red]refused[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(
        f"official dust days: {rep.written} new or changed, {rep.upgraded} upgraded from candidate, "
        f"{rep.unchanged} unchanged, {len(rep.rejected)} rejected"
    )
    for r in rep.rejected:
        err.print(f"  [yellow]rejected[/yellow] {r.file}:{r.line or '-'} {r.column or ''}: {r.reason}")


@dust_app.command("mark")
def dust_mark(
    start: Annotated[str, typer.Option("--from", help="First day (Beijing).")],
    end: Annotated[str, typer.Option("--to", help="Day after the last (Beijing).")],
    pm10_min: Annotated[float, typer.Option(help="PM10 above this [µg/m³] …")] = 300.0,
    ratio_max: Annotated[float, typer.Option(help="… with PM2.5/PM10 below this is a dust hour.")] = 0.35,
    min_hours: Annotated[int, typer.Option(help="Dust hours needed in a day.")] = 1,
    database_url: DbOption = None,
) -> None:
    """Mark candidate dust days of counties, parks and the prefecture from the area hourly values (shown beside
    the assessments, never excluded)."""
    from bogda.monitoring.dust import mark_candidates

    rep = mark_candidates(
        _store(database_url),
        start=_when(start),
        end=_when(end),
        pm10_min=pm10_min,
        ratio_max=ratio_max,
        min_hours=min_hours,
    )
    console.print(f"candidate dust days: {rep.written} marked, {rep.kept_official} already official")


@dust_app.command("list")
def dust_list(
    start: Annotated[str | None, typer.Option("--from", help="First day (Beijing).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Day after the last (Beijing).")] = None,
    database_url: DbOption = None,
) -> None:
    """List the recorded dust days."""
    from datetime import date as _date

    from bogda.monitoring.dust import list_dust_days

    df = list_dust_days(
        _store(database_url),
        start=_date.fromisoformat(start) if start else None,
        end=_date.fromisoformat(end) if end else None,
    )
    table = Table(title="dust days 沙尘天气")
    for c in df.columns:
        table.add_column(c)
    for row in df.iter_rows():
        table.add_row(*[str(v) for v in row])
    console.print(table)


# --- enforcement: non-site supervision clues, production plans, CEMS / meter import (enforcement.md) -------------

clues_app = typer.Typer(
    help="Non-site supervision clues (非现场监管线索): run the rule catalogue, list clues.", no_args_is_help=True
)
plans_app = typer.Typer(
    help="Production plans: staggered windows, warning orders, emergency measures.", no_args_is_help=True
)
app.add_typer(clues_app, name="clues")
app.add_typer(plans_app, name="plans")
from datetime import datetime as _dt  # noqa: E402

if "ingest_app" not in globals():  # the monitoring commands create it when present
    ingest_app = typer.Typer(help="Load data files into the store.", no_args_is_help=True)
    app.add_typer(ingest_app, name="ingest")


def _enf_time(text: str | None, default: _dt | None) -> _dt | None:
    from bogda.timeutil import parse_time

    return parse_time(text) if text else default


@clues_app.command("run")
def clues_run(
    since: Annotated[str | None, typer.Option(help="Window start (Beijing time or ISO; default: 72 h ago).")] = None,
    until: Annotated[str | None, typer.Option(help="Window end, exclusive (default: the last full hour).")] = None,
    enterprise: Annotated[list[str] | None, typer.Option(help="Enterprise code (repeatable; default all).")] = None,
    lookback_days: Annotated[int, typer.Option(help="Days of history read before the window.")] = 30,
    database_url: DbOption = None,
) -> None:
    """Run the whole rule catalogue over a window and file every hit as a clue (idempotent)."""
    from datetime import timedelta

    from bogda.enforcement.service import run_clues
    from bogda.timeutil import floor_to, now_utc

    end = _enf_time(until, floor_to(now_utc(), "hour"))
    start = _enf_time(since, end - timedelta(hours=72))
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=console) as progress:
        task = progress.add_task("clues", total=None)
        rep = run_clues(
            _store(database_url),
            since=start,
            until=end,
            enterprises=enterprise,
            lookback_days=lookback_days,
            progress=lambda m: progress.update(task, description=m),
        )
    table = Table(title=f"clues run #{rep.run_id}  {start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} UTC")
    for col in ("hits", "created", "updated", "unchanged", "suppressed", "not evaluable", "errors", "seconds"):
        table.add_column(col, justify="right")
    table.add_row(
        *(
            str(x)
            for x in (
                rep.hits,
                rep.created,
                rep.updated,
                rep.unchanged,
                rep.suppressed,
                rep.not_evaluable,
                len(rep.errors),
                f"{rep.seconds:.1f}",
            )
        )
    )
    console.print(table)
    if rep.by_rule:
        console.print("by rule: " + ", ".join(f"{k} {v}" for k, v in sorted(rep.by_rule.items())))
    for rule_id, subject, msg in rep.errors[:20]:
        err.print(f"[yellow]rule {rule_id} failed for {subject}[/yellow]: {msg}")


@clues_app.command("list")
def clues_list(
    status: Annotated[str | None, typer.Option(help="Clue status (NEW, CASE_FILED, FALSE_POSITIVE …).")] = None,
    rule: Annotated[str | None, typer.Option(help="Rule id (C01 … P03).")] = None,
    enterprise: Annotated[str | None, typer.Option(help="Enterprise code.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 50,
    database_url: DbOption = None,
) -> None:
    """List clues, most severe and newest first."""
    from bogda.enforcement.inbox import list_clues

    rows, found = list_clues(_store(database_url), status=status, rule_id=rule, enterprise=enterprise, limit=limit)
    table = Table(title=f"clues 线索 ({len(rows)} of {found})")
    for col in ("finding", "sev", "rule", "enterprise", "subject", "window (Beijing)", "status"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r["finding_id"]),
            r["severity"],
            f"{r['rule_id']} {r['rule_name']}",
            r["enterprise_name"] or "",
            r["subject_code"] or "",
            r["window_local"],
            r["status"],
        )
    console.print(table)


@clues_app.command("params")
def clues_params(
    path: Annotated[
        Path | None, typer.Argument(help="Parameter file (YAML/JSON: version, params) to activate.")
    ] = None,
    database_url: DbOption = None,
) -> None:
    """Show the rule parameters in force, or validate and activate a versioned parameter file."""
    from bogda.enforcement.rules import DEFAULT_PARAMS, ParamError
    from bogda.enforcement.service import activate_params, active_params

    st = _store(database_url)
    if path is not None:
        try:
            p = activate_params(st, path.read_text(encoding="utf-8"), name=path.name, by="cli")
        except (OSError, ParamError) as exc:
            err.print(f"[red]refused[/red] {exc}; the parameters in force are unchanged")
            raise typer.Exit(2) from None
        console.print(f"[green]activated[/green] {p.version} (sha256 {p.sha256[:12]}…)")
    p = active_params(st)
    changed = {k: v for k, v in p.values.items() if v != DEFAULT_PARAMS.get(k)}
    console.print(f"in force: {p.version} · sha256 {p.sha256} · {len(changed)} key(s) differ from the defaults")
    for k, v in sorted(changed.items()):
        console.print(f"  {k} = {v!r} (default {DEFAULT_PARAMS.get(k)!r})")


@clues_app.command("gaps")
def clues_gaps(
    since: Annotated[str | None, typer.Option(help="Evaluation days from (Beijing).")] = None,
    database_url: DbOption = None,
) -> None:
    """Config-gaps report: rules that could not run for a subject because a registry item is missing."""
    from bogda.enforcement.service import config_gaps
    from bogda.timeutil import beijing_date

    start = _enf_time(since, None)
    rows = config_gaps(_store(database_url), since=beijing_date(start) if start else None)
    table = Table(title=f"config gaps 配置缺失 ({len(rows)})")
    for col in ("subject", "rule", "missing", "days", "last day"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["subject_code"], f"{r['rule_id']} {r['rule_name']}", r["missing"], str(r["days"]),
                      r["last_day"].isoformat())  # fmt: skip
    console.print(table)


@clues_app.command("export")
def clues_export(
    path: Annotated[Path, typer.Argument(help="Output file (.csv gets a .fields.csv dictionary next to it).")],
    dataset: Annotated[str, typer.Option(help="clues, or evaluations (fired/clear/not_evaluable per day).")] = "clues",
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    rule: Annotated[str | None, typer.Option(help="Rule id.")] = None,
    enterprise: Annotated[str | None, typer.Option(help="Enterprise code (clues).")] = None,
    status: Annotated[str | None, typer.Option(help="Clue status (clues).")] = None,
    since: Annotated[str | None, typer.Option(help="Clues ending after / evaluation days from (Beijing).")] = None,
    database_url: DbOption = None,
) -> None:
    """Export clues or rule evaluations as flat CSV / JSON with a field dictionary."""
    from bogda.enforcement import exports
    from bogda.timeutil import beijing_date

    st = _store(database_url)
    start = _enf_time(since, None)
    try:
        if dataset == "clues":
            rows = exports.clue_rows(st, rule_id=rule, enterprise=enterprise, status=status, since=start)
        elif dataset == "evaluations":
            rows = exports.evaluation_rows(st, rule_id=rule, start=beijing_date(start) if start else None)
        else:
            raise ValueError(f"dataset {dataset!r}; expected clues or evaluations")
        files = exports.write(rows, dataset, path, fmt)
    except ValueError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"[green]{len(rows)} rows[/green] → " + ", ".join(str(f) for f in files))


@plans_app.command("list")
def plans_list(
    kind: Annotated[str | None, typer.Option(help="stagger_window, order, measure, grade or baseline.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include withdrawn records.")] = False,
    database_url: DbOption = None,
) -> None:
    """List production-plan records."""
    from bogda.enforcement.planbook import list_plans

    rows = list_plans(_store(database_url), kinds=[kind] if kind else None, active=None if all_ else True)
    table = Table(title="plans 生产计划")
    for col in ("id", "kind", "enterprise/sector", "level", "action", "value", "start", "end", "doc", "active"):
        table.add_column(col)
    for r in rows:
        fmt = lambda t: "" if t is None else f"{t:%Y-%m-%d %H:%M}Z"  # noqa: E731
        table.add_row(
            str(r["id"]),
            r["kind"],
            r["enterprise"] or r["sector"] or "",
            r["level"] or "",
            r["action"] or "",
            "" if r["value"] is None else f"{r['value']:g}",
            fmt(r["start"]),
            fmt(r["end"]),
            r["doc_id"],
            "yes" if r["active"] else "no",
        )
    console.print(table)


@plans_app.command("add")
def plans_add(
    kind: Annotated[str, typer.Argument(help="stagger_window, order, measure, grade or baseline.")],
    enterprise: Annotated[str | None, typer.Option(help="Enterprise code.")] = None,
    sector: Annotated[str | None, typer.Option(help="Sector (stagger windows for a whole sector).")] = None,
    level: Annotated[str | None, typer.Option(help="Warning level: yellow, orange, red.")] = None,
    action: Annotated[
        str | None, typer.Option(help="stop, cap_ratio, stop_lines, extend_coking_h, transport_ban.")
    ] = None,
    value: Annotated[float | None, typer.Option(help="Allowed ratio, share of lines, baseline value …")] = None,
    grade: Annotated[str | None, typer.Option(help="Performance grade (A, B, B-, C, D).")] = None,
    industry: Annotated[str | None, typer.Option(help="Measure table, e.g. cement_clinker.")] = None,
    target: Annotated[str, typer.Option(help="Meter code or line id the record applies to.")] = "",
    start: Annotated[str | None, typer.Option("--from", help="Start (Beijing time or ISO).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="End, exclusive.")] = None,
    doc: Annotated[str, typer.Option(help="Document number (文号).")] = "",
    area: Annotated[
        str | None, typer.Option(help="Order only: the county, park or prefecture it binds (default: all).")
    ] = None,
    database_url: DbOption = None,
) -> None:
    """Add a plan record (e.g. a warning order entered by hand, or a staggered-production window)."""
    from bogda.enforcement.planbook import PlanInput, add_plan

    try:
        p = PlanInput(
            kind,
            enterprise=enterprise,
            sector=sector,
            level=level,
            action=action,
            value=value,
            grade=grade,
            industry=industry,
            target=target,
            start=_enf_time(start, None),
            end=_enf_time(end, None),
            doc_id=doc,
            area_code=area,
        )
        with _store(database_url).begin() as conn:
            pid = add_plan(conn, p, by="cli")
    except ValueError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"[green]plan {pid} added[/green]")


@plans_app.command("stagger-season")
def plans_stagger_season(
    year: Annotated[int, typer.Argument(help="Season start year: window 1 Nov YEAR – 31 Mar YEAR+1 (Beijing).")],
    sector: Annotated[str, typer.Option(help="Sector the window applies to.")] = "cement",
    doc: Annotated[str, typer.Option(help="Document number (文号).")] = "",
    database_url: DbOption = None,
) -> None:
    """Add the Xinjiang staggered-production window (cement: 1 Nov – 31 Mar) for a whole sector."""
    from bogda.enforcement.planbook import add_stagger_season

    with _store(database_url).begin() as conn:
        pid = add_stagger_season(conn, year, sector=sector, doc_id=doc, by="cli")
    console.print(f"[green]plan {pid} added[/green]: {sector} {year}-11-01 → {year + 1}-03-31")


@plans_app.command("withdraw")
def plans_withdraw(plan_id: Annotated[int, typer.Argument(help="Plan id.")], database_url: DbOption = None) -> None:
    """Withdraw a plan record (kept for the record, no longer applied); an order's emergency lists end with it."""
    from bogda.enforcement.planbook import deactivate_plan

    try:
        with _store(database_url).begin() as conn:
            ended = deactivate_plan(conn, plan_id)
    except LookupError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from None
    lists = f"; {ended} emergency list(s) ended 应急减排清单已终止" if ended else ""
    console.print(f"plan {plan_id} withdrawn{lists}")


@plans_app.command("order-list")
def plans_order_list(
    order_id: Annotated[int, typer.Argument(help="Plan id of a hand-entered order (bogda plans add order …).")],
    area: Annotated[
        str | None, typer.Option(help="County, park or prefecture (default: the order's area, else the prefecture).")
    ] = None,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Freeze a new version even if the order has an active list.")
    ] = False,
    xlsx: Annotated[Path | None, typer.Option(help="Write the list as an Excel workbook here.")] = None,
    database_url: DbOption = None,
) -> None:
    """The emergency-reduction list of a hand-entered order (人工录入指令的应急减排清单), optionally exported to Excel.

    The order's active list is shown as it was frozen (the one its enterprises were given); the first call, or
    ``--rebuild`` (e.g. after the registry changed), freezes a new version from today's registry and ends the previous
    one (forecast.md §3.10). Withdrawing the order (``bogda plans withdraw``) ends its list.
    """
    from bogda.forecast import emergency

    st = _store(database_url)
    current = [
        x["id"]
        for x in emergency.active_list(st, area_code=area)
        if x["warning_id"] is None and (x["totals"] or {}).get("order_id") == order_id
    ]
    try:
        if current and not rebuild:
            list_id = current[0]  # newest first
        else:
            list_id = emergency.activate_for_order(st, order_id, area, by="cli")
            console.print(f"[green]emergency list {list_id} frozen[/green] for order {order_id}")
    except (LookupError, ValueError) as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from None
    _show_emergency_list(st, list_id, xlsx)


def _load_file(kind: str, path: Path, code: str, database_url: str | None, **kw: object) -> None:
    from bogda.enforcement.cems_csv import load_read, read_cems_csv, read_meter_csv
    from bogda.registry.sites import site_id_by_code

    st = _store(database_url)
    with st.engine.connect() as conn:
        sid = site_id_by_code(conn, kind, code)
    if sid is None:
        err.print(f"[red]error[/red] {kind} {code} is not in the registry")
        raise typer.Exit(2)
    try:
        with console.status(f"reading {path}…"):
            read = read_cems_csv(path, **kw) if kind == "outlet" else read_meter_csv(path, **kw)  # type: ignore[arg-type]
            res = load_read(st, read, sid)
    except (OSError, ValueError) as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(
        f"[green]{path.name}[/green] ({read.layout}): {res.inserted} new, {res.corrected} corrected, "
        f"{res.unchanged} unchanged values at resolution {read.resolution}"
    )
    if read.ignored:
        console.print(f"ignored columns: {', '.join(read.ignored)}")
    for p in read.problems()[:50]:
        err.print(f"[yellow]rejected[/yellow] {p}")
    if len(read.rejected) > 50:
        err.print(f"… {len(read.rejected) - 50} more rejected cells")


@ingest_app.command("cems")
def ingest_cems(
    path: Annotated[Path, typer.Argument(help="CEMS CSV: generic (time + HJ 212 codes), gas_turbine or CAMPD.")],
    outlet: Annotated[str, typer.Option(help="Outlet code in the registry.")],
    start: Annotated[str | None, typer.Option(help="Start hour of files without timestamps (gas_turbine).")] = None,
    utc_offset: Annotated[float | None, typer.Option(help="Hours from UTC of local standard time (CAMPD).")] = None,
    labelled_by: Annotated[str, typer.Option(help="Times label the interval 'start' (default) or 'end'.")] = "start",
    database_url: DbOption = None,
) -> None:
    """Import a CEMS CSV as hourly series of an outlet (layouts: docs/enforcement.md)."""
    _load_file(
        "outlet",
        path,
        outlet,
        database_url,
        start=_enf_time(start, None),
        utc_offset_h=utc_offset,
        labelled_by=labelled_by,
    )


@ingest_app.command("meter")
def ingest_meter(
    path: Annotated[Path, typer.Argument(help="Meter CSV: generic (time + p_kw / kwh) or 15-min steel layout.")],
    meter: Annotated[str, typer.Option(help="Meter code in the registry.")],
    labelled_by: Annotated[str, typer.Option(help="Times label the interval 'start' (default) or 'end'.")] = "start",
    database_url: DbOption = None,
) -> None:
    """Import an electricity-meter CSV as series of a meter."""
    _load_file("meter", path, meter, database_url, labelled_by=labelled_by)


def _records(kind: str, load: object) -> None:
    """Run an all-or-nothing record import and print its result, or every fault (exit code 2)."""
    from bogda.enforcement.tabular import RecordFileError

    try:
        res = load()  # type: ignore[operator]
    except RecordFileError as exc:
        err.print(f"[red]{exc.path}: {len(exc.problems)} fault(s), nothing loaded[/red]")
        for p in exc.problems[:100]:
            err.print(f"  {p}")
        raise typer.Exit(2) from None
    except ValueError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from None
    extra = f", {res.updated} updated" if res.updated else ""
    console.print(
        f"[green]{res.path}[/green] ({kind}): {res.rows} rows, {res.inserted} new{extra}, {res.unchanged} unchanged"
    )


@ingest_app.command("marks")
def ingest_marks(
    path: Annotated[Path, typer.Argument(help="CEMS data marks, CSV or XLSX (columns: docs/enforcement.md).")],
    sheet: Annotated[str | None, typer.Option(help="Workbook sheet (default the first).")] = None,
    database_url: DbOption = None,
) -> None:
    """Import CEMS data marks (标记: startup, shutdown, stopped, fault, maintenance, calibration); all rows or none."""
    from bogda.enforcement.recordbook import import_marks

    _records("marks", lambda: import_marks(_store(database_url), path, sheet=sheet, by="cli"))


@ingest_app.command("pushes")
def ingest_pushes(
    path: Annotated[Path, typer.Argument(help="Coke-oven push log (battery, oven, pushed_at), CSV or XLSX.")],
    enterprise: Annotated[str | None, typer.Option(help="Enterprise code (else an enterprise column).")] = None,
    sheet: Annotated[str | None, typer.Option(help="Workbook sheet (default the first).")] = None,
    database_url: DbOption = None,
) -> None:
    """Import coke-oven pushes (推焦记录) for the coking-time rule P02; all rows or none."""
    from bogda.enforcement.recordbook import import_pushes

    _records("pushes", lambda: import_pushes(_store(database_url), path, enterprise=enterprise, sheet=sheet))


@ingest_app.command("gate")
def ingest_gate(
    path: Annotated[Path, typer.Argument(help="Gate log (passed_at, plate, vehicle_class, emission_stage …).")],
    enterprise: Annotated[str | None, typer.Option(help="Enterprise code (else an enterprise column).")] = None,
    sheet: Annotated[str | None, typer.Option(help="Workbook sheet (default the first).")] = None,
    database_url: DbOption = None,
) -> None:
    """Import gate (门禁) records for the transport-ban rule P03; all rows or none."""
    from bogda.enforcement.recordbook import import_gate

    _records("gate", lambda: import_gate(_store(database_url), path, enterprise=enterprise, sheet=sheet))


@plans_app.command("coke-battery")
def plans_coke_battery(
    enterprise: Annotated[str, typer.Argument(help="Enterprise code.")],
    battery: Annotated[str, typer.Argument(help="Battery code (炉组), as in the push log.")],
    ovens: Annotated[int, typer.Option(help="Number of ovens (炭化室数).")],
    chamber_height: Annotated[float | None, typer.Option(help="Chamber height [m] (≥ 6 m: 28 h under orders).")] = None,
    coking_h: Annotated[float | None, typer.Option(help="Design coking time [h].")] = None,
    dedust_meter: Annotated[str | None, typer.Option(help="Meter code of the pushing dust-collection station.")] = None,
    pusher_meter: Annotated[str | None, typer.Option(help="Meter code of the pusher (pushes from its power).")] = None,
    database_url: DbOption = None,
) -> None:
    """Register or update a coke-oven battery (P02 inputs)."""
    from bogda.enforcement.recordbook import set_battery

    try:
        with _store(database_url).begin() as conn:
            bid = set_battery(
                conn,
                enterprise,
                battery,
                ovens=ovens,
                chamber_height_m=chamber_height,
                coking_h=coking_h,
                dedust_meter=dedust_meter,
                pusher_meter=pusher_meter,
            )
    except ValueError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"[green]battery {enterprise}/{battery} saved[/green] (id {bid}, {ovens} ovens)")


# --- fire: satellite fire points (docs/fire.md) ---------------------------------------------------------------

fire_app = typer.Typer(help="Satellite fire points: statistics, polling, verdicts (卫星火点).", no_args_is_help=True)
app.add_typer(fire_app, name="fire")


@ingest_app.command("fire")
def ingest_fire(
    paths: Annotated[list[Path], typer.Argument(help="FIRMS CSV/JSON/zip/DBF, Himawari WLF, CSPP, FY tables …")],
    keep_outside: Annotated[
        bool, typer.Option("--keep-outside/--bbox-only", help="Also store rows outside the prefecture bbox + 50 km.")
    ] = False,
    database_url: DbOption = None,
) -> None:
    """Ingest satellite fire files: de-duplicate, region filter, mask, cluster, track events, file fire findings."""
    from bogda.fire.service import ingest_files

    settings = _settings(database_url)
    st = _store(database_url)
    with console.status(f"ingesting {len(paths)} fire file(s)…"):
        r = ingest_files(
            st,
            paths,
            sectors=settings.fire.plant_sectors,
            keep_outside_bbox=keep_outside,
            raw_dir=settings.data_dir / "fire" / "raw",
        )
    table = Table(title="fire ingest 火点入库")
    for col in ("file", "status", "rows", "bad", "duplicate", "outside bbox", "stored"):
        table.add_column(col, justify="left" if col in ("file", "status") else "right")
    for f in r.files:
        table.add_row(
            f.name, f.status, str(f.n_rows), str(f.n_bad), str(f.n_duplicate), str(f.n_outside_bbox), str(f.n_stored)
        )
    console.print(table)
    for f in r.files:
        if f.error:
            err.print(f"[red]{f.name}[/red]: {f.error}")
        for rej in f.rejected[:20]:
            err.print(f"  {f.name}:{rej['line']} {rej['field']}: {rej['reason']}")
    console.print(
        f"masked 掩膜 {r.n_masked} · events new 新事件 {r.events_new} · alerts {r.alerts} · findings 问题 {r.findings}"
    )
    st.dispose()
    if r.file_errors:
        raise typer.Exit(1)


@fire_app.command("stats")
def fire_stats(
    county: Annotated[
        str | None, typer.Option(help="County adcode (default: all counties and the prefecture).")
    ] = None,
    month: Annotated[str | None, typer.Option(help="Beijing month YYYY-MM: daily rows of that month.")] = None,
    monthly: Annotated[bool, typer.Option("--monthly", help="Monthly rows instead of daily rows.")] = False,
    database_url: DbOption = None,
) -> None:
    """Fire points per county and Beijing day or month (bulletins count pixels, not events)."""
    import calendar
    from datetime import date

    from bogda.fire.service import stats

    start = end = None
    if month:
        try:
            y, m = (int(x) for x in month.split("-"))
            start, end = date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1])
        except ValueError:
            err.print(f"[red]--month {month!r}: expected YYYY-MM[/red]")
            raise typer.Exit(2) from None
    st = _store(database_url)
    out = stats(st, start=start, end=end, by="month" if monthly else "day", county=county)
    st.dispose()
    cols = [
        "county_code",
        "month" if monthly else "date_bjt",
        "sensor",
        "points_all",
        "points_screened",
        "points_dedup",
    ]
    if monthly:
        cols += [c for c in ("active_days", "events_new", "verdicts", "false_rate") if c in out.columns]
    table = Table(title="fire statistics 火点统计")
    for c in cols:
        table.add_column(c)
    for row in out.select(cols).iter_rows():
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


@fire_app.command("poll")
def fire_poll(database_url: DbOption = None) -> None:
    """Poll the configured fire inbox folder and URL / FIRMS area API once (the scheduler does this every 15 min)."""
    from bogda.fire.poll import poll

    settings = _settings(database_url)
    st = _store(database_url)
    rep = poll(st, settings.fire, spool=settings.data_dir / "fire")
    st.dispose()
    console.print(f"picked up 新文件: {len(rep.picked)}")
    if rep.ingest is not None:
        console.print(f"stored 入库 {rep.ingest.n_stored} · findings 问题 {rep.ingest.findings}")
    for e in rep.fetch_errors:
        err.print(f"[red]fetch failed[/red]: {e}")
    if rep.feed_down:
        err.print(f"[red]fire_feed_down[/red]: {rep.feed_down}")


@fire_app.command("bulletin")
def fire_bulletin(
    path: Annotated[
        Path,
        typer.Argument(help="Official fire-point bulletin list (xlsx or CSV: 时间, 中心经度, 中心纬度, 省, 市, 县)."),
    ],
    prefecture: Annotated[
        str | None, typer.Option(help="Adcode of the jurisdiction (default: the registry's).")
    ] = None,
    database_url: DbOption = None,
) -> None:
    """Store a bulletin list's points and match them to the stored detections (fire.md §2.4)."""
    from bogda.fire.bulletin_store import import_bulletin
    from bogda.fire.records import FireFormatError

    st = _store(database_url)
    try:
        rep = import_bulletin(st, path, prefecture=prefecture)
    except (FireFormatError, OSError, ValueError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    finally:
        st.dispose()
    console.print(
        f"{rep.name}: rows 行 {rep.n_rows} · new 新增 {rep.n_new} · known 已有 {rep.n_known} · "
        f"in area 辖区内 {rep.n_in_area} · matched 匹配 {rep.n_matched} · rejected 拒绝 {len(rep.rejected)}"
    )
    for r in rep.rejected[:20]:
        err.print(f"{rep.name}:{r['line']} [{r['field']}] {r['reason']}")


@fire_app.command("verdict")
def fire_verdict(
    event_id: Annotated[str, typer.Argument(help="Fire event id (FE…).")],
    verdict: Annotated[str, typer.Argument(help="straw, garbage, wildland, other_fire, industrial, false, not_found")],
    by: Annotated[str, typer.Option(help="Login of the person recording it (audited).")],
    note: Annotated[str | None, typer.Option(help="Note.")] = None,
    database_url: DbOption = None,
) -> None:
    """Record a verification verdict for a fire event (normally it comes back from the grid task)."""
    from bogda.fire.verification import record_verdict

    st = _store(database_url)
    try:
        out = record_verdict(st, event_id, verdict, by=by, note=note)
    except (ValueError, LookupError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    finally:
        st.dispose()
    console.print(f"{out.event_id}: {out.verdict} → {out.outcome}; candidates {list(out.candidates)}")


# --- ledgers and reports (governance.md §3.7, §3.9) ------------------------------------------------------------

ledger_app = typer.Typer(help="Ledgers (台账): Excel import and export, the demo year.", no_args_is_help=True)
report_app = typer.Typer(
    help="Documents: the monthly air-quality bulletin, the annual duty report and the shift report.",
    no_args_is_help=True,
)
app.add_typer(ledger_app, name="ledger")
app.add_typer(report_app, name="report")


@ledger_app.command("import")
def ledger_import(
    kind: Annotated[
        str,
        typer.Argument(
            help="Ledger: rectification, petition, case, permit, eia, quota_credit, "
            "quota_allocation, grade, hw_unit, carbon, vehicle."
        ),
    ],
    file: Annotated[Path, typer.Argument(help="An .xlsx or .csv file in the export layout (Chinese headers).")],
    database_url: DbOption = None,
    actor: Annotated[str, typer.Option(help="Who imports (kept in the ledger events).")] = "cli",
) -> None:
    """Import a ledger file, all rows or none (rejected rows are listed with line, column and reason)."""
    from bogda.ledger.io import import_file
    from bogda.registry.importers import ImportRejected

    try:
        rep = import_file(_store(database_url), kind, file, actor=actor)
    except ImportRejected as exc:
        for e in exc.errors:
            err.print(f"[red]{e}[/red]")
        err.print(f"[red]{len(exc.errors)} row error(s): nothing imported[/red]")
        raise typer.Exit(1) from None
    except KeyError as exc:
        err.print(f"[red]{exc.args[0]}[/red]")
        raise typer.Exit(2) from None
    console.print(f"[green]{rep.written} record(s) imported into {kind}[/green]")


@ledger_app.command("export")
def ledger_export(
    kind: Annotated[str, typer.Argument(help="Ledger kind (see `bogda ledger import --help`).")],
    file: Annotated[Path, typer.Argument(help="The .xlsx file to write.")],
    database_url: DbOption = None,
) -> None:
    """Export every record of a ledger to Excel (the layout import reads back)."""
    from bogda.ledger.io import export_file

    try:
        export_file(_store(database_url), kind, file)
    except KeyError as exc:
        err.print(f"[red]{exc.args[0]}[/red]")
        raise typer.Exit(2) from None
    console.print(f"[green]written[/green] {file}")


@ledger_app.command("demo-year")
def ledger_demo_year(database_url: DbOption = None) -> None:
    """Fill the ledgers and 2024–2025 daily AQI with the simulated demo year (reproduces the seed report)."""
    from bogda.demo.ledger_year import build_ledger_year

    with console.status("writing the demo year …"):
        y = build_ledger_year(_store(database_url))
    for k, n in y.written.items():
        console.print(f"{k}: {n}")


# --- annual air-quality targets (governance.md §3.8 "Annual targets") -----------------------------------------

targets_app = typer.Typer(
    help="Annual air-quality targets (年度目标): Excel import and export, the Xinjiang 2025 seed.", no_args_is_help=True
)
app.add_typer(targets_app, name="targets")


def _print_rejected(exc: Exception) -> None:
    for e in exc.errors:  # type: ignore[attr-defined]
        err.print(f"[red]{e}[/red]")
    err.print(f"[red]{len(exc.errors)} row error(s): nothing imported[/red]")  # type: ignore[attr-defined]


@targets_app.command("export")
def targets_export(
    file: Annotated[Path, typer.Argument(help="The .xlsx file to write.")],
    year: Annotated[int | None, typer.Option(help="Only the targets of this year.")] = None,
    database_url: DbOption = None,
) -> None:
    """Export the annual targets to Excel (Chinese column names; the layout import reads back)."""
    from bogda.web.api.targets_io import export_targets

    st = _store(database_url)
    try:
        file.write_bytes(export_targets(st, year))
    finally:
        st.dispose()
    console.print(f"[green]written[/green] {file}")


@targets_app.command("import")
def targets_import(
    file: Annotated[Path, typer.Argument(help="An .xlsx or .csv file in the export layout.")],
    database_url: DbOption = None,
    actor: Annotated[str, typer.Option(help="Who enters the targets (kept as entered_by).")] = "cli",
) -> None:
    """Import annual targets, all rows or none, replacing stored ones of the same place, year and metric."""
    from bogda.registry.importers import ImportRejected
    from bogda.web.api.targets_io import import_targets

    st = _store(database_url)
    try:
        rep = import_targets(st, file, actor)
    except ImportRejected as exc:
        _print_rejected(exc)
        raise typer.Exit(1) from None
    finally:
        st.dispose()
    console.print(f"[green]{rep.written} target(s) imported[/green]")


@targets_app.command("seed")
def targets_seed(
    database_url: DbOption = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace stored targets of the seed's keys.")] = False,
) -> None:
    """Load the Xinjiang 2025 plan targets (新政办发〔2024〕58号); stored targets are kept unless --overwrite."""
    from bogda.registry.importers import ImportRejected
    from bogda.web.api.targets_io import seed_targets

    st = _store(database_url)
    try:
        rep = seed_targets(st, overwrite=overwrite)
    except ImportRejected as exc:
        _print_rejected(exc)
        raise typer.Exit(1) from None
    finally:
        st.dispose()
    for w in rep.warnings:
        console.print(w)
    console.print(f"[green]{rep.written} seed target(s) written[/green], {len(rep.warnings)} kept")


def _print_generated(g: object) -> None:
    for w in g.warnings:  # type: ignore[attr-defined]
        err.print(f"[yellow]warning:[/yellow] {w}")
    console.print(f"[green]DOCX[/green] {g.docx}")  # type: ignore[attr-defined]
    if g.pdf:  # type: ignore[attr-defined]
        console.print(f"[green]PDF[/green]  {g.pdf}")  # type: ignore[attr-defined]
    console.print(f"{len(g.figures)} figure(s), each with its query and records (appendix 数据来源)")  # type: ignore[attr-defined]


@report_app.command("monthly")
def report_monthly(
    month: Annotated[str, typer.Argument(help="The month, YYYY-MM (e.g. 2025-12).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the DOCX and PDF.")] = Path("reports"),
    no_pdf: Annotated[bool, typer.Option("--no-pdf", help="DOCX only.")] = False,
    database_url: DbOption = None,
) -> None:
    """Generate the monthly air-quality bulletin (DOCX and PDF)."""
    from bogda.reports import service

    try:
        year, mon = (int(x) for x in month.split("-"))
        if not 1 <= mon <= 12:
            raise ValueError
    except ValueError:
        err.print(f"[red]month {month!r}: expected YYYY-MM[/red]")
        raise typer.Exit(2) from None
    with console.status("rendering the bulletin …"):
        g = service.monthly(_store(database_url), year, mon, out, pdf=not no_pdf)
    _print_generated(g)


@report_app.command("annual")
def report_annual(
    year: Annotated[int, typer.Argument(help="The year (e.g. 2025).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the DOCX and PDF.")] = Path("reports"),
    template: Annotated[
        Path | None, typer.Option(help="The bureau's edited narrative template (default: the packaged one).")
    ] = None,
    no_pdf: Annotated[bool, typer.Option("--no-pdf", help="DOCX only.")] = False,
    database_url: DbOption = None,
) -> None:
    """Generate the annual duty-performance report (DOCX and PDF), every figure traced to its records."""
    from bogda.reports import service

    with console.status("rendering the duty report …"):
        g = service.annual(_store(database_url), year, out, pdf=not no_pdf, template=template)
    _print_generated(g)


@report_app.command("figures")
def report_figures(
    year: Annotated[int, typer.Argument(help="The year.")],
    database_url: DbOption = None,
) -> None:
    """List the figure keys the duty-report template may use, with their values and record counts."""
    from bogda.reports.duty_report import collect

    figs, _ = collect(_store(database_url), year)
    t = Table("key", "label", "value", "records")
    for k, f in sorted(figs.items()):
        t.add_row(k, f.label, f.display(), str(f.count))
    console.print(t)


@report_app.command("shift-template")
def report_shift_template(
    path: Annotated[Path, typer.Argument(help="Where to write the template (e.g. 值班日报.md.j2).")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write the packaged shift-report template to PATH for the bureau to edit (then set reports.shift_template)."""
    from bogda.reports.shift_report import default_template

    if path.exists() and not force:
        err.print(f"[red]{path} exists: pass --force to overwrite it[/red]")
        raise typer.Exit(2)
    path.write_text(default_template(), encoding="utf-8")
    console.print(f"[green]written[/green] {path}")
    console.print(
        "edit it, check it with `bogda report shift DAY --template PATH`, then set BOGDA_REPORTS__SHIFT_TEMPLATE"
    )


@report_app.command("shift")
def report_shift(
    shift: Annotated[
        str, typer.Argument(help="YYYY-MM-DD (the 08:30 shift of that day) or YYYY-MM-DDTHH:MM, Beijing.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for the DOCX.")] = Path("reports"),
    template: Annotated[
        Path | None,
        typer.Option(help="The bureau's edited template (default: setting reports.shift_template, else packaged)."),
    ] = None,
    officer: Annotated[str, typer.Option(help="The duty officer (交班人).")] = "",
    handover_to: Annotated[str, typer.Option(help="The next officer (接班人).")] = "",
    database_url: DbOption = None,
) -> None:
    """Generate the shift report (值班日报 / 交接班报告) as DOCX and record it, every count traced to its records."""
    from bogda.reports import shift_report as sr

    try:
        sh = sr.parse_shift(shift)
        path, rid, r = sr.generate(
            _store(database_url),
            sh,
            out,
            officer=officer,
            handover_to=handover_to,
            actor="cli",
            template=template or _settings(database_url).reports.shift_template,
        )
    except ValueError as exc:  # a bad shift text or a template that cannot be rendered (MarkupError)
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    for w in r.sources.warnings:
        err.print(f"[yellow]warning:[/yellow] {w}")
    console.print(f"[green]DOCX[/green] {path} (report {rid}, template {r.template_version})")
    console.print(f"{len(r.sources.figures)} figure(s), each with its query and records (appendix 数据来源)")


@report_app.command("shift-figures")
def report_shift_figures(
    shift: Annotated[str, typer.Argument(help="YYYY-MM-DD or YYYY-MM-DDTHH:MM (Beijing), as for `report shift`.")],
    database_url: DbOption = None,
) -> None:
    """List the figure keys the shift-report template may use for that shift, with values and record counts."""
    from bogda.reports.shift_report import collect, parse_shift

    try:
        sh = parse_shift(shift)
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    figs, _, _ = collect(_store(database_url), sh)
    t = Table("key", "label", "value", "records")
    for k, f in sorted(figs.items()):
        t.add_row(k, f.label, f.display(), str(f.count))
    console.print(t)


# --- forecast (forecast.md): backtest, refresh, warnings, emergency lists, NWP files -----------------------------

forecast_app = typer.Typer(
    help="Forecasts, heavy-pollution warnings and emergency lists (七天预报、三天预警).", no_args_is_help=True
)
app.add_typer(forecast_app, name="forecast")


@forecast_app.command("backtest")
def forecast_backtest(
    protocol: Annotated[
        str, typer.Option(help="beijing, xinjiang2019, all (the two), or usembassy (check 6, US Embassy 2010–14).")
    ] = "beijing",
    stations: Annotated[str, typer.Option(help="PRSA station name(s), comma-separated, or 'all'.")] = "Dongsi",
    data: Annotated[Path, typer.Option(help="The shared data folder.")] = Path("../shared/data"),
    out: Annotated[Path, typer.Option(help="Folder for the score tables (CSV).")] = Path("backtest_out"),
    profile: Annotated[str, typer.Option(help="fast, reference or protocol.")] = "protocol",
    refit: Annotated[
        str | None, typer.Option(help="once or month (default: monthly for beijing, once for xinjiang2019).")
    ] = None,
    store_scores: Annotated[bool, typer.Option("--store/--no-store", help="Also write backtest_score rows.")] = True,
    nwp: Annotated[
        list[Path] | None, typer.Option(help="Archived NWP runs (NetCDF/GRIB2/CSV files or folders): adds mode nwp.")
    ] = None,
    modes: Annotated[
        str,
        typer.Option(
            help="Weather modes of the beijing protocol, comma-separated: none, observed_proxy (observed weather as "
            "a perfect forecast), noisy_proxy (observed daily weather with the spec's assumed forecast error)."
        ),
    ] = "none,observed_proxy,noisy_proxy",
    aqi: Annotated[
        bool,
        typer.Option(
            "--aqi/--no-aqi",
            help="beijing only: forecast every daily AQI item and score the daily AQI, its level and the primary "
            "pollutant at D+1 (forecast.md §8 item 4) instead of the PM2.5 protocol.",
        ),
    ] = False,
    check_reference: Annotated[
        bool,
        typer.Option(
            "--check-reference/--no-check-reference",
            help="beijing only: check 3 (forecast.md §8) — the reference and fast profiles against the reference "
            "file's LightGBM rows; writes check3.csv, stores nothing.",
        ),
    ] = False,
    heating_season: Annotated[
        str | None,
        typer.Option(
            "--heating-season",
            help="The heating season MM-DD:MM-DD (inclusive, may cross the new year): adds the target day's "
            "heating-season flag to the model features (forecast.md §2); default: none. Beijing 11-15:03-15, "
            "Changji about 10-15:04-15.",
        ),
    ] = None,
    database_url: DbOption = None,
) -> None:
    """Rolling-origin backtest on the acceptance protocols; one score table per station, goals met / not met."""
    import polars as pl

    from bogda.forecast import backtest
    from bogda.forecast.calendar import format_heating_season, parse_heating_season

    if protocol not in ("beijing", "xinjiang2019", "usembassy", "all"):
        raise typer.BadParameter("protocol must be beijing, xinjiang2019, usembassy or all")
    argv = ["--protocol", protocol, "--stations", stations, "--data", str(data), "--out", str(out), "--modes", modes]
    if heating_season is not None:  # checked before any data is read
        try:
            season = parse_heating_season(heating_season)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="'--heating-season'") from None
        if check_reference:  # check 3 reproduces the reference file's inputs, which have no such flag
            raise typer.BadParameter("not with --check-reference", param_hint="'--heating-season'")
        # written out in full, so that the stored score rows' configuration names the season
        argv += ["--heating-season", format_heating_season(season)]
    for p in nwp or []:
        argv += ["--nwp", str(p)]
    if refit is not None:
        if refit not in ("once", "month"):
            raise typer.BadParameter("refit must be once or month")
        argv += ["--refit", refit]
    if aqi:
        argv.append("--aqi")
    if check_reference:
        raise typer.Exit(backtest.main([*argv, "--check-reference"]))
    code = backtest.main([*argv, "--profile", profile])
    if code == 0 and store_scores:
        from bogda.forecast.service import store_scores as _store_scores

        table = pl.read_csv(out / "verification.csv", infer_schema_length=None)
        n = _store_scores(_store(database_url), table, config=" ".join([*argv, profile]), period="protocol")
        console.print(f"stored {n} score values in backtest_score")
    raise typer.Exit(code)


@forecast_app.command("avoided")
def forecast_avoided(
    protocol: Annotated[
        str | None, typer.Option(help="beijing: the §8 check 5 (Dongsi target, Dingling control); the default.")
    ] = None,
    data: Annotated[Path, typer.Option(help="The shared data folder (--protocol).")] = Path("../shared/data"),
    target: Annotated[str | None, typer.Option(help="Stored data: the target air station's code.")] = None,
    control: Annotated[
        list[str] | None, typer.Option(help="Stored data: a control station outside the footprint (repeat).")
    ] = None,
    start: Annotated[str | None, typer.Option(help="Stored data: first day of the intervention (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option(help="Stored data: last day of the intervention (YYYY-MM-DD).")] = None,
    threshold: Annotated[float, typer.Option(help="Event: daily mean above this [µg/m³].")] = 150.0,
    pollutant: Annotated[str, typer.Option(help="Pollutant code (a34004 PM2.5).")] = "a34004",
    event: Annotated[
        str,
        typer.Option(
            help="Stored data: daily (--pollutant mean > --threshold), heavy (daily AQI > 200) or ozone "
            "(AQI > 100, O3 8 h primary); AQI events leave dust-affected days out and count them apart. "
            "--protocol beijing: daily (PM2.5 > 150, the §8 check 5) or heavy (the same files and splits)."
        ),
    ] = "daily",
    reference_years: Annotated[int, typer.Option(help="Reference window: the years before --start.")] = 3,
    heating_season: Annotated[
        str | None,
        typer.Option(
            "--heating-season",
            help="The prefecture's heating season MM-DD:MM-DD (inclusive, may cross the new year) for the heating "
            "flag of the features; default 11-15:03-15 (Beijing). Changji: about 10-15:04-15.",
        ),
    ] = None,
    season_days: Annotated[
        int | None,
        typer.Option(
            "--season-days",
            help="Season-matched residual bootstrap: each 7-day block draws its residuals from days within ± this "
            "many days of year (§3.9 steps 3–4; off by default, docs/forecast.md §14 gives the evidence).",
        ),
    ] = None,
    sensitivity: Annotated[
        bool,
        typer.Option(
            "--sensitivity/--no-sensitivity",
            help="Stored data, every --event, and check 5: also run the §3.9 step 5 sensitivity (windows, trend "
            "on, each control left out; 1 + controls more fits), judged like the other checks: every variant inside "
            "the main 90 % interval (the weather-only variant is reported, not judged).",
        ),
    ] = True,
    store_results: Annotated[
        bool, typer.Option("--store/--no-store", help="Also write intervention_eval rows.")
    ] = True,
    database_url: DbOption = None,
) -> None:
    """Days avoided (§3.9): counterfactual event days against observed, with placebo, injection and calibration.

    ``--protocol beijing`` runs the §8 check 5 on the shared files. ``--target CODE --control CODE --start --end``
    evaluates stored observations: the reference window is the ``--reference-years`` before ``--start``, the
    placebo years are the same calendar window 1 and 2 years earlier, and each control also plays the target
    (placebo in space) when there are at least 2.
    """
    from dataclasses import replace
    from datetime import date as _date

    from bogda.forecast import avoided

    def sens_text(sens: dict) -> str:
        """The §3.9 step 5 report of one evaluation, as the stored path and check 5 print it."""
        wins = ", ".join(f"{k} d: {v:+.1f}" for k, v in sens["windows"].items())
        sets = ", ".join(f"{k}: {v:+.1f}" for k, v in sens["control_sets"].items()) or "—"
        trend, spread = sens["trend_on"], sens["spread"]
        text = f"windows trimmed {wins}; trend on {trend:+.1f}; control sets {sets}; spread {spread:.1f} d"
        lo, hi = sens["ci90"]
        judged = "passed" if sens["passed"] else "FAILED, outside: " + ", ".join(sens["outside"])
        return f"{text}; judged against the main 90 % interval {lo:+.0f}…{hi:+.0f}: {judged}"

    try:  # checked first, so that a bad season fails before any data is read
        season = avoided.BEIJING_HEATING if heating_season is None else avoided.parse_heating_season(heating_season)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--heating-season'") from None
    if season_days is not None and not 1 <= season_days <= 183:
        raise typer.BadParameter(f"{season_days} is not a number of days in 1..183", param_hint="'--season-days'")
    base = avoided.AvoidedParams(heating=season, season_days=season_days)
    if target is not None:
        if not (start and end):
            raise typer.BadParameter("--target needs --start and --end")
        try:
            d0, d1 = _date.fromisoformat(start), _date.fromisoformat(end)
        except ValueError as exc:
            raise typer.BadParameter(f"dates must be YYYY-MM-DD: {exc}") from None
        if event not in ("daily", *avoided.EVENTS):
            raise typer.BadParameter(f"--event must be daily, {', '.join(avoided.EVENTS)}")
        st = _store(database_url)
        params = replace(base, threshold=threshold)
        try:
            if event == "daily":
                est, checks, rec = avoided.evaluate_stored(
                    st, target, list(control or []), (d0, d1), params, pollutant=pollutant,
                    reference_years=reference_years, with_sensitivity=sensitivity,
                )  # fmt: skip
            else:
                est, checks, rec = avoided.evaluate_stored_aqi(
                    st, target, list(control or []), (d0, d1), params, event=avoided.EVENTS[event],
                    reference_years=reference_years, with_sensitivity=sensitivity,
                )  # fmt: skip
        except (KeyError, ValueError) as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
        lo, hi = est.expected_ci
        console.print(
            f"{target} {d0}..{d1} ({rec.label or 'controlled'}): {est.n_days} days, observed {est.n_obs}, "
            f"expected {est.expected:.1f} ({lo:.1f}…{hi:.1f}), avoided {est.avoided_median:+.1f} "
            f"({est.ci90[0]:+.1f}…{est.ci90[1]:+.1f}), MDE {rec.mde_days:.1f} d / {rec.mde_pct:.0f} %"
        )
        for c in checks:
            console.print(f"  {c.name}: {'passed' if c.passed else 'FAILED'}")
        if "sensitivity" in rec.placebo:  # §3.9 step 5, judged with the other checks
            console.print(f"  sensitivity (avoided, MC median): {sens_text(rec.placebo['sensitivity'])}")
        for code, info in rec.placebo.get("nwp", {}).get("stations", {}).items():  # §3.9 step 2 "when available"
            left = "; ".join(f"{k} left out: {why}" for k, why in info["left_out"].items())
            said = ", ".join(info["used"]) or info.get("reason") or "none used"
            console.print(f"  NWP BLH/radiation/cloud at {code}: {said}" + (f" ({left})" if left else ""))
        if "dust" in rec.placebo:
            dust = rec.placebo["dust"]
            console.print(f"  dust-affected days left out: {dust['days']} ({dust['event_days']} of them {rec.event})")
        console.print(f"verdict: [bold]{rec.verdict}[/bold]")
        if store_results:
            console.print(f"stored intervention_eval {avoided.store_result(st, rec)}")
        return
    if (protocol or "beijing") != "beijing":
        raise typer.BadParameter("only --protocol beijing is implemented (forecast.md §8 check 5)")
    if event not in ("daily", "heavy"):  # the protocol harness covers the spec's event and the heavy day only
        raise typer.BadParameter(
            f"--protocol beijing runs --event daily (PM2.5 > 150) or heavy (AQI > 200), not {event!r}",
            param_hint="'--event'",
        )
    if event == "heavy":
        from bogda.forecast.avoided.check5 import check5_aqi  # read at call time, so a test can replace it

        with console.status("check 5, heavy day (AQI > 200): 2 feature sets × 2 splits × 6 items …"):
            rows = check5_aqi(data, base, with_sensitivity=sensitivity)
        console.print("event: heavy day (daily AQI > 200; dust-affected days left out, counted apart)")
    else:
        with console.status("check 5: 2 feature sets × 2 splits, 3 windows × 3 seeds …"):
            rows = avoided.check5(data, base, with_sensitivity=sensitivity)
    t = Table(
        "features", "test", "days", "observed", "expected Σp (90 %)", "MC median", "avoided MC (5–95 %)", "BSS",
        "verdict", "label",
    )  # fmt: skip
    for r in rows:
        e = r.estimate
        bss = "—" if e.bss is None else f"{e.bss:.2f}"
        t.add_row(
            r.features,
            f"{r.test[0]:%Y-%m}..{r.test[1]:%Y-%m}",
            str(e.n_days),
            str(e.n_obs),
            f"{e.expected:.1f} ({e.expected_ci[0]:.1f}…{e.expected_ci[1]:.1f})",
            f"{e.cf_median:.0f}",
            f"{e.avoided_median:+.1f} ({e.ci90[0]:+.1f}…{e.ci90[1]:+.1f})",
            bss,
            r.result.verdict,
            r.result.label,
        )
    console.print(t)
    for r in rows:
        failed = [c.name for c in r.checks if not c.passed]
        said = f"failed {', '.join(failed)}" if failed else "checks passed"
        console.print(f"{r.features} {r.test[0]:%Y}: {r.result.verdict} ({said})")
        if "dust" in r.result.placebo:  # AQI events only (§3.9 step 1 "counted separately")
            dust = r.result.placebo["dust"]
            console.print(
                f"  dust-affected days left out: {dust['days']} ({dust['event_days']} of them {r.result.event})"
            )
    weather_only = {r.test: r.estimate.avoided_median for r in rows if r.features == "weather_calendar"}
    for r in rows:  # §3.9 step 5, judged (with_control rows; the control left out is weather only: not judged)
        if "sensitivity" in r.result.placebo:
            wo = weather_only.get(r.test)
            console.print(
                f"sensitivity {r.features} {r.test[0]:%Y} (avoided, MC median; main {r.estimate.avoided_median:+.1f}"
                + ("" if wo is None else f", weather_calendar row {wo:+.1f}")
                + f"): {sens_text(r.result.placebo['sensitivity'])}"
            )
    if store_results:
        st = _store(database_url)
        ids = [avoided.store_result(st, r.result) for r in rows]
        console.print(f"stored {len(ids)} rows in intervention_eval (ids {ids[0]}–{ids[-1]})")


@forecast_app.command("train")
def forecast_train(
    gated: Annotated[
        bool, typer.Option("--gate/--no-gate", help="Put the new models in service only through the gate.")
    ] = True,
    database_url: DbOption = None,
) -> None:
    """Train the model sets on the last 3 years and put them in service through the deployment gate (§3.4)."""
    from bogda.forecast import service

    st = _store(database_url)
    skipped: list[str] = []
    n, verdict = service.train_gated(st, gated=gated, skipped=skipped)
    for reason in skipped:  # items served by their baselines until their history is long enough
        err.print(reason if reason.startswith(("rounds:", "baselines:")) else f"not trained: {reason}")
    if verdict is None and n == 0:
        err.print("[red]nothing trained[/red]" + ("" if skipped else " (see the log)"))
        raise typer.Exit(1)
    if verdict is not None:
        console.print(f"gate: {verdict.reason}")
        for c in verdict.checks:

            def pair(a: float | None, b: float | None) -> str:
                return "—" if a is None or b is None else f"{a:.2f} / {b:.2f}"

            cov = "—" if c.coverage_new is None else f"{c.coverage_new:.3f}"
            unit = "h" if c.resolution == "hour" else "d"
            console.print(
                f"  {c.item} {c.lead} {unit}: RMSE {pair(c.rmse_new, c.rmse_current)}, MAE "
                f"{pair(c.mae_new, c.mae_current)} (new / in service, {c.n} pairs), coverage {cov} → "
                + ("passed" if c.passed else f"failed: {c.reason}")
            )
    console.print(f"{n} item(s) put in service")


@forecast_app.command("tune")
def forecast_tune(
    force: Annotated[
        bool, typer.Option("--force", help="Tune even when the stored counts are younger than 30 days.")
    ] = False,
    database_url: DbOption = None,
) -> None:
    """Tune the round counts of the nightly training on the last 6 months of the window (quarterly run, §3.4).

    Exits 1 when the nightly training would still use the profile's fixed rounds."""
    from bogda.forecast import service
    from bogda.timeutil import now_utc

    notes: list[str] = []
    with console.status("forecast round tuning …"):
        n = service.tune(_store(database_url), force=force, notes=notes)
    for line in notes:
        console.print(line)
    tuned, rounds = service.rounds_for_training(service.rounds_path(), now=now_utc())
    console.print(f"{n} model set(s) tuned; nightly training: {rounds}")
    if tuned is None:
        raise typer.Exit(1)


@forecast_app.command("run")
def forecast_run(
    at: Annotated[str | None, typer.Option(help="Issue time (ISO 8601 with offset); default now.")] = None,
    rule: Annotated[
        str | None,
        typer.Option(help="Warning rule set: 2024 or 2017 (alias 2018); default: the installation's setting."),
    ] = None,
    database_url: DbOption = None,
) -> None:
    """Refresh the forecast of every station, county and the prefecture; propose warnings and advisories."""
    from bogda.forecast import service
    from bogda.timeutil import parse_time

    now = parse_time(at) if at else None
    with console.status("forecast refresh …"):
        res = service.refresh(_store(database_url), now, rule=rule)
    console.print(f"run {res.run_id}: [bold]{res.status}[/bold], {res.n_values} values in {res.seconds:.2f} s")
    if res.observed_weather:
        console.print(f"  observed station weather read: {', '.join(res.observed_weather)}")
    for r in res.reasons:
        console.print(f"  · {r}")
    t = Table("area", "D+1", "D+2", "D+3", "D+4", "D+5", "D+6", "D+7", "proposal")
    props = {p.area_code: p for p in res.warnings}
    for code, days in res.daily_aqi.items():
        if code not in props:
            continue
        cells = [f"{m:.0f} ({lo:.0f}–{hi:.0f})" if m == m else "—" for _, m, lo, hi, _ in days]
        t.add_row(code, *cells, props[code].level or "—")
    console.print(t)


@forecast_app.command("publish")
def forecast_publish(
    file: Annotated[
        Path | None, typer.Option("--file", help="Publish this CSV (area_code, day, aqi_lo, aqi_hi, primary).")
    ] = None,
    draft_csv: Annotated[
        Path | None, typer.Option(help="Write today's draft from the latest run as such a CSV.")
    ] = None,
    by: Annotated[str, typer.Option(help="Who publishes (recorded with the publication).")] = "cli",
    note: Annotated[str, typer.Option(help="Note, e.g. why the draft was corrected.")] = "",
    scores: Annotated[bool, typer.Option("--scores", help="Score the last 30 days' publications instead.")] = False,
    database_url: DbOption = None,
) -> None:
    """Today's forecast publication (预报发布, HJ 633-2026: ≥ 3 days, by 20:00): show the duty and what is published,
    write the draft to edit, publish a file, or score past publications against the observed daily AQI."""
    from datetime import timedelta

    from bogda.forecast import publication as pb
    from bogda.timeutil import beijing_date, now_utc, to_beijing

    st = _store(database_url)
    today = beijing_date(now_utc())
    if scores:
        end = today - timedelta(days=1)
        t = Table(
            "area",
            "lead",
            "days",
            "corrected",
            "range acc. pub / model",
            "level range pub / model",
            "primary pub / model",
            "range gain (90 % interval)",
        )

        def pair(r: dict[str, Any], k: str) -> str:
            return " / ".join("–" if r[f"{w}_{k}"] is None else f"{r[f'{w}_{k}']:.2f}" for w in ("published", "model"))

        for r in pb.scores(st, end - timedelta(days=29), end):
            t.add_row(
                r["area_code"],
                f"D+{r['lead']}",
                str(r["published_n"]),
                str(r["n_corrected"]),
                pair(r, "range_acc"),
                pair(r, "level_range_acc"),
                pair(r, "primary_acc"),
                pb.gain_text(r),
            )
        console.print(t)
        return
    if draft_csv is not None:
        run_id, entries = pb.draft(st, today)
        if not entries:
            err.print("[red]no forecast run to draft from (bogda forecast run)[/red]")
            raise typer.Exit(1)
        draft_csv.write_text(pb.entries_csv(entries), encoding="utf-8")
        console.print(f"draft of {today} from run {run_id}: {len(entries)} rows written to {draft_csv}")
        return
    if file is not None:
        entries, problems = pb.read_entries_csv(file.read_text(encoding="utf-8"))
        if not problems:
            try:
                pid = pb.publish(st, entries, by=by, issue_date=today, note=note)
            except ValueError as exc:
                problems = str(exc).splitlines()[1:]
            else:
                console.print(f"published {today} (#{pid}): {len(entries)} area-days")
                return
        err.print(f"[red]{file}: not published[/red]")
        for p in problems:
            err.print(f"  · {p}")
        raise typer.Exit(1)
    s = pb.status(st)
    if s["published"]:
        line = f"published {to_beijing(s['published_at']):%H:%M} by {s['published_by']}" + (
            " (late)" if s["late"] else ""
        )
    else:
        line = "OVERDUE (20:00 passed)" if s["overdue"] else "not published yet, due by 20:00 Beijing"
        if s["finding_id"]:
            line += f"; on the problem list as finding #{s['finding_id']}"
    console.print(f"forecast of {today}: {line}")
    pub = pb.current(st, today)
    if pub is not None:
        t = Table("area", "day", "AQI range", "primary", "model AQI", "corrected")
        for d in pub["days"]:
            model = "–" if d["model_aqi"] is None else f"{d['model_aqi']:.0f}"
            t.add_row(
                d["area_code"],
                str(d["day"]),
                f"{d['aqi_lo']}–{d['aqi_hi']}",
                d["primary_pollutant"] or "",
                model,
                "yes" if d["corrected"] else "",
            )
        console.print(t)


@forecast_app.command("warn")
def forecast_warn(
    warning_id: Annotated[int | None, typer.Argument(help="Warning id (omit to list warnings).")] = None,
    action: Annotated[str | None, typer.Option(help="issue, reject, change or lift.")] = None,
    by: Annotated[str, typer.Option(help="Who decides (recorded in the audit trail).")] = "cli",
    level: Annotated[str | None, typer.Option(help="New level for change: yellow, orange, red.")] = None,
    doc_no: Annotated[str | None, typer.Option(help="Document number (文号).")] = None,
    note: Annotated[str | None, typer.Option(help="Note for the audit trail.")] = None,
    database_url: DbOption = None,
) -> None:
    """List warnings, or issue / reject / change / lift one (issuing activates the emergency list)."""
    from bogda.forecast import service

    st = _store(database_url)
    if warning_id is None or action is None:
        t = Table("id", "area", "level", "state", "start", "end", "rule", "decided by")
        for w in service.warnings(st):
            t.add_row(
                str(w["id"]),
                w["area_code"],
                w["level"],
                w["state"],
                str(w["start_date"]),
                str(w["end_date"]),
                w["rule_set"],
                w["decided_by"] or "",
            )
        console.print(t)
        return
    to = {"issue": "issued", "reject": "rejected", "change": "changed", "lift": "lifted"}.get(action)
    if to is None:
        raise typer.BadParameter("action must be issue, reject, change or lift")
    try:
        w = service.decide_warning(st, warning_id, to, by=by, level=level, doc_no=doc_no, note=note)
    except (LookupError, ValueError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"warning {warning_id}: {w['state']} ({w['level']})")
    if w.get("list_id"):
        console.print(f"emergency list {w['list_id']} activated")


def _warning_check_table(rows: list[dict[str, Any]]) -> Table:
    t = Table(
        "category",
        "episodes",
        "hits",
        "misses",
        "warnings",
        "false al.",
        "POD",
        "FAR",
        "lead h (median)",
        "lead h (min)",
        "hits ≥ 24 h ahead",
        "episode days",
        "warned days",
        "day POD",
        "day FAR",
    )

    def f(v: float | None, fmt: str = ".3f") -> str:
        return "–" if v is None else format(v, fmt)

    for r in rows:
        t.add_row(
            r["category"],
            str(r["episodes"]),
            str(r["hits"]),
            str(r["misses"]),
            str(r["warnings"]),
            str(r["false_alarms"]),
            f(r["pod"]),
            f(r["far"]),
            f(r["lead_h_median"], ".0f"),
            f(r["lead_h_min"], ".0f"),
            str(r["hits_lead_ge_24h"]),
            str(r["episode_days"]),
            str(r["warned_days"]),
            f(r["day_pod"]),
            f(r["day_far"]),
        )
    return t


@forecast_app.command("warnings-check")
def forecast_warnings_check(
    protocol: Annotated[
        str,
        typer.Option(
            help="local (this installation's warnings against its areas' daily AQI) or beijing (warnings "
            "simulated from the Dongsi protocol's daily forecasts)."
        ),
    ] = "local",
    start: Annotated[str | None, typer.Option("--from", help="local: first day (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="local: last day (YYYY-MM-DD).")] = None,
    source: Annotated[
        str, typer.Option(help="local: issued (what people issued) or proposed (every proposal of the service).")
    ] = "issued",
    rule: Annotated[str, typer.Option(help="Warning rule set: 2024 or 2017 (alias 2018).")] = "2024",
    modes: Annotated[str, typer.Option(help="beijing: weather modes, comma-separated.")] = "none",
    merge_gap_hours: Annotated[
        float | None,
        typer.Option(
            "--merge-gap-hours",
            help="beijing: episodes at most this many hours apart are one warning, as the service merges them "
            "(default 36, warnings.MERGE_GAP_HOURS).",
        ),
    ] = None,
    data: Annotated[Path, typer.Option(help="The shared data folder (beijing).")] = Path("../shared/data"),
    dust: Annotated[
        str,
        typer.Option(
            help="Sand/dust days left out of the observed episodes (emergency plans exclude them): local: official "
            "(the recorded national list, default), all (with the candidate days) or none; beijing: the days of "
            "the PM10 rule (daily PM10 > 150, PM2.5/PM10 < 0.35) unless none."
        ),
    ] = "official",
    episodes: Annotated[
        bool, typer.Option("--episodes/--no-episodes", help="Also list episodes and warnings.")
    ] = False,
    store_scores: Annotated[
        bool, typer.Option("--store/--no-store", help="Keep the figures for the console (backtest_score).")
    ] = True,
    database_url: DbOption = None,
) -> None:
    """Verify warnings per episode: POD, FAR and lead time for ≥ yellow and for each level (forecast.md §3.9)."""
    from datetime import date as _date

    from bogda.forecast import warning_check as wc
    from bogda.standards.warning_levels import canonical_rule

    try:
        rule = canonical_rule(rule)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--rule") from None
    from bogda.forecast import warnings as wn

    if merge_gap_hours is not None and protocol != "beijing":
        # the local check verifies the stored warnings, merged or not as the service recorded them
        raise typer.BadParameter("only with --protocol beijing", param_hint="--merge-gap-hours")
    if merge_gap_hours is not None and merge_gap_hours < 0:
        raise typer.BadParameter(f"must be ≥ 0, not {merge_gap_hours:g}", param_hint="--merge-gap-hours")
    gap = wn.MERGE_GAP_HOURS if merge_gap_hours is None else merge_gap_hours
    if dust not in wc.DUST_STATUSES:
        raise typer.BadParameter(f"must be one of {', '.join(wc.DUST_STATUSES)}, not {dust!r}", param_hint="--dust")
    notes: list[str] = []
    if protocol == "local":
        try:
            lo = _date.fromisoformat(start or "")
            hi = _date.fromisoformat(end or "")
        except ValueError:
            raise typer.BadParameter("give --from and --to as YYYY-MM-DD", param_hint="--from/--to") from None
        if hi < lo:
            raise typer.BadParameter(f"--to {hi} is before --from {lo}", param_hint="--to")
        if source not in ("issued", "proposed"):
            raise typer.BadParameter("source must be issued or proposed", param_hint="--source")
        runs = {source: wc.verify_local(_store(database_url), lo, hi, rule=rule, source=source, dust=dust, notes=notes)}
    elif protocol == "beijing":
        wanted = tuple(m.strip() for m in modes.split(",") if m.strip())
        bad = [m for m in wanted if m not in ("none", "observed_proxy")]
        if bad or not wanted:
            raise typer.BadParameter(
                f"unknown mode(s) {', '.join(bad) or '(none given)'}: none, observed_proxy", param_hint="--modes"
            )
        try:
            runs = dict(
                wc.beijing(data, modes=wanted, rule=rule, merge_gap_hours=gap, dust=dust != "none", notes=notes)
            )
        except FileNotFoundError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
    else:
        raise typer.BadParameter("protocol must be local or beijing", param_hint="--protocol")
    if store_scores:
        from bogda.forecast import service

        period = f"{start}..{end}" if protocol == "local" else "2016-03-01..2017-02-28"
        # a gap other than the service's default is a configuration of its own: its figures do not replace those
        config = f"rule {rule}" if gap == wn.MERGE_GAP_HOURS else f"rule {rule}, merge gap {gap:g} h"
        if dust == "none" or (protocol == "local" and dust != "official"):  # not the default: kept apart
            config += f", dust {dust}"
        n = 0
        for name, (rows, _, _) in runs.items():
            method, weather = (name, "operational") if protocol == "local" else ("simulated", name)
            recs = [r | {"method": method, "weather": weather, "n": r["episodes"]} for r in rows]
            n += service.store_checks(
                _store(database_url), recs, item="warning", protocol=protocol, period=period, config=config
            )
        console.print(f"stored {n} check figures in backtest_score")
    for note in notes:
        console.print(note)
    for name, (rows, eps, ws) in runs.items():
        setting = f" · merge gap {gap:g} h" if protocol == "beijing" else ""
        console.print(
            f"[bold]{protocol} · {name} · rule {rule}{setting}[/bold]: {len(eps)} observed episodes, {len(ws)} warnings"
        )
        console.print(_warning_check_table(rows))
        if episodes:
            for e in eps:
                console.print(f"  episode {e.area_code} {e.start}..{e.end} {e.level} (peak AQI {e.peak_aqi:.0f})")
            for w in ws:
                console.print(
                    f"  warning {w.area_code} {w.start}..{w.end} {w.level} issued {w.issued_at:%Y-%m-%d %H:%M}Z"
                )


@forecast_app.command("emergency-list")
def forecast_emergency_list(
    warning_id: Annotated[int, typer.Argument(help="Warning id.")],
    xlsx: Annotated[Path | None, typer.Option(help="Write the list as an Excel workbook here.")] = None,
    database_url: DbOption = None,
) -> None:
    """Show the newest emergency-reduction list of a warning, optionally exported to Excel (a hand-entered order's
    list: ``bogda plans order-list``)."""
    from sqlalchemy import select

    from bogda.store.schema import emergency_list

    st = _store(database_url)
    with st.engine.connect() as conn:
        list_id = conn.execute(
            select(emergency_list.c.id)
            .where(emergency_list.c.warning_id == warning_id)
            .order_by(emergency_list.c.version.desc())
        ).scalar()
    if list_id is None:
        err.print(f"[red]warning {warning_id} has no emergency list (is it issued?)[/red]")
        raise typer.Exit(1)
    _show_emergency_list(st, list_id, xlsx)


def _show_emergency_list(st: Any, list_id: int, xlsx: Path | None) -> None:
    """Print an emergency-reduction list's items and write it to ``xlsx`` when given (``forecast emergency-list``,
    ``plans order-list``)."""
    from bogda.forecast import emergency

    head, items = emergency.list_rows(st, list_id)
    t = Table(
        "county",
        "enterprise",
        "sector",
        "grade",
        "allowed",
        "transport ban",
        "baseline",
        title=f"emergency list {list_id} v{head['version']} {head['area_code']} {head['level']} {head['doc_no']}",
    )
    for it in items:
        t.add_row(
            it["county_name"] or "",
            it["name"],
            it["sector"],
            it["grade"],
            f"{it['allowed_ratio']:.2f}",
            "yes" if it["transport_ban"] else "no",
            it["baseline_source"],
        )
    console.print(t)
    if xlsx is not None:
        emergency.export_xlsx(st, list_id, xlsx)
        console.print(f"wrote {xlsx}")


advisories_app = typer.Typer(
    help="Adverse-weather advisories: check and tune the thresholds on local data (不利气象条件提示阈值本地检验).",
    no_args_is_help=True,
)
forecast_app.add_typer(advisories_app, name="advisories")


def _advisory_table(scores: Any) -> Table:
    t = Table(
        "kind",
        "weather",
        "thresholds",
        "period",
        "hits",
        "false al.",
        "misses",
        "TS",
        "POD",
        "FAR",
        "ETS",
        "days",
        "events",
    )

    def f(v: float | None) -> str:
        return "–" if v is None else f"{v:.3f}"

    for r in scores.iter_rows(named=True):
        t.add_row(
            r["kind"],
            r["weather"],
            r["thresholds"],
            r["period"],
            str(r["hits"]),
            str(r["false_alarms"]),
            str(r["misses"]),
            f(r["ts"]),
            f(r["pod"]),
            f(r["far"]),
            f(r["ets"]),
            str(r["n_days"]),
            str(r["n_events"]),
        )
    return t


@advisories_app.command("check")
def advisories_check(
    protocol: Annotated[
        str,
        typer.Option(
            help="beijing (the 8 PRSA files, observed weather) or local (this installation's nwp_value and "
            "area observations)."
        ),
    ] = "beijing",
    data: Annotated[Path, typer.Option(help="The shared data folder (beijing).")] = Path("../shared/data"),
    train: Annotated[str | None, typer.Option(help="local: training days FROM..TO (YYYY-MM-DD..YYYY-MM-DD).")] = None,
    test: Annotated[str | None, typer.Option(help="local: test days FROM..TO.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the score table to this CSV file.")] = None,
    activate: Annotated[str | None, typer.Option(help="Activate the tuned thresholds under this version name.")] = None,
    area: Annotated[str, typer.Option(help="Area the activated set is for ('*': every area).")] = "*",
    by: Annotated[str, typer.Option(help="Who activates (recorded with the set).")] = "cli",
    store_scores: Annotated[
        bool, typer.Option("--store/--no-store", help="Keep the figures for the console (backtest_score).")
    ] = True,
    database_url: DbOption = None,
) -> None:
    """Score the advisories against observed events (TS, POD, FAR, ETS) with the default and the tuned
    thresholds, tuned on the training days and scored on the test days (forecast.md §3.8)."""
    from datetime import date as _date

    from bogda.forecast import advisory_check as ac
    from bogda.forecast import advisory_thresholds as at

    def span(text: str | None, name: str) -> tuple[_date, _date]:
        try:
            a, b = (text or "").split("..")
            lo, hi = _date.fromisoformat(a), _date.fromisoformat(b)
        except ValueError:
            raise typer.BadParameter(f"{text!r} is not FROM..TO (YYYY-MM-DD..YYYY-MM-DD)", param_hint=name) from None
        if hi < lo:
            raise typer.BadParameter(f"{text!r} ends before it starts", param_hint=name)
        return lo, hi

    if protocol == "beijing":
        if train or test:
            raise typer.BadParameter("the beijing protocol has fixed spans; --train/--test are for local")
        try:
            res = ac.beijing(data)
        except FileNotFoundError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
        source = "beijing protocol (PRSA files, observed weather as a perfect forecast)"
        spans = {"train": "2013-03-01..2016-02-29", "test": "2016-03-01..2017-02-28"}
    elif protocol == "local":
        tr, te = span(train, "--train"), span(test, "--test")
        try:
            res = at.local_check(_store(database_url), tr, te)
        except LookupError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
        source = "local (nwp_value, aqi_hourly; stagnation event without its rain clause)"
        spans = {"train": train or "", "test": test or ""}
    else:
        raise typer.BadParameter("protocol must be beijing or local", param_hint="--protocol")
    console.print(_advisory_table(res.scores))
    for kind, params in res.tuned.items():
        changed = {k: v for k, v in params.items() if res.defaults[kind][k] != v}
        console.print(f"tuned {kind}: {changed or 'defaults kept'}")
    if not res.rain_clause:
        console.print("note: no rain observed — the stagnation event is PM2.5 daily mean > 75 alone")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        res.scores.write_csv(out)
        console.print(f"wrote {out}")
    if store_scores:
        from bogda.forecast import service

        n = 0
        for period in ("train", "test"):
            rows = [
                r | {"category": r["kind"], "method": r["thresholds"], "n": r["n_days"]}
                for r in res.scores.iter_rows(named=True)
                if r["period"] == period
            ]
            n += service.store_checks(
                _store(database_url),
                rows,
                item="advisory",
                protocol=protocol,
                period=f"{period} {spans[period]}",
                config="",
            )
        console.print(f"stored {n} check figures in backtest_score")
    if activate is not None:
        evidence = {"protocol": source, "spans": spans, "scores": res.scores.to_dicts(), "tuned": res.tuned}
        try:
            at.activate(
                _store(database_url),
                asdict(res.thresholds),
                version=activate,
                area_code=area,
                evidence=evidence,
                source=source,
                by=by,
            )
        except at.ThresholdError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
        console.print(f"activated thresholds {activate} for {area}")


@advisories_app.command("thresholds")
def advisories_thresholds(
    file: Annotated[Path | None, typer.Argument(help="A JSON object of thresholds to activate (omit to list).")] = None,
    version: Annotated[str | None, typer.Option(help="Version name of the set to activate.")] = None,
    area: Annotated[str, typer.Option(help="Area the set is for ('*': every area).")] = "*",
    by: Annotated[str, typer.Option(help="Who activates (recorded with the set).")] = "cli",
    database_url: DbOption = None,
) -> None:
    """List the advisory threshold sets (and which one each area uses), or activate one from a JSON file."""
    import json

    from bogda.forecast import advisory_thresholds as at

    st = _store(database_url)
    if file is None:
        t = Table("area", "version", "in force", "activated", "by", "changed from the defaults")
        defaults = asdict(at.thresholds_from({}))
        for r in at.list_sets(st):
            changed = {
                k: v
                for k, v in r["values"].items()
                if k in defaults and v != (list(defaults[k]) if isinstance(defaults[k], tuple) else defaults[k])
            }
            t.add_row(
                r["area_code"],
                r["version"],
                "yes" if r["in_force"] else "",
                str(r["activated_at"])[:19],
                r["activated_by"] or "",
                json.dumps(changed, ensure_ascii=False),
            )
        console.print(t)
        if not t.rows:
            console.print("no activated set: every area uses the defaults")
        return
    if version is None:
        raise typer.BadParameter("give --version for the set to activate", param_hint="--version")
    try:
        values = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        err.print(f"[red]{file}: {exc}[/red]")
        raise typer.Exit(1) from None
    if not isinstance(values, dict):
        err.print(f"[red]{file}: expected a JSON object of thresholds[/red]")
        raise typer.Exit(1)
    try:
        at.activate(st, values, version=version, area_code=area, source=file.name, by=by)
    except at.ThresholdError as exc:
        err.print(f"[red]{file}: {exc}[/red]")
        raise typer.Exit(1) from None
    console.print(f"activated thresholds {version} for {area}")


@forecast_app.command("load-nwp")
def forecast_load_nwp(
    files: Annotated[list[Path], typer.Argument(help="NWP files: .nc (CF NetCDF), .grib2, .csv.")],
    source: Annotated[str | None, typer.Option(help="Source label (default: by file type).")] = None,
    database_url: DbOption = None,
) -> None:
    """Load NWP files, interpolated to every station (bilinear) and averaged to counties and the prefecture."""
    from bogda.forecast import nwp, service

    st = _store(database_url)
    reg = service.registry(st)
    located = [t for t in reg.stations if t.lat is not None and t.lon is not None]
    points = {t.code: (t.lat, t.lon) for t in located}
    heights = {t.code: t.elevation_m for t in located}
    members = {t.code: list(t.members) for t in reg.areas}
    for f in files:
        b = nwp.read_nwp(f, points, source=source, heights=heights)
        n = nwp.load_nwp(st, b, members=members)
        console.print(f"{f}: {n} values, {b.n_rejected} rejected")
        for note in b.notes:
            console.print(f"  note: {note}")
        for e in b.errors[:20]:
            err.print(f"  {e.file}:{e.line} {e.field}: {e.reason}")


@jobs_app.command("list")
def jobs_list(database_url: DbOption = None) -> None:
    """List the scheduled jobs and their last run."""
    from bogda.jobs import JOBS, recent_runs

    st = _store(database_url)
    table = Table()
    for col in ("job", "every (min)", "what", "last run", "status", "rows"):
        table.add_column(col)
    for spec in JOBS.values():
        last = recent_runs(st, job=spec.name, limit=1)
        run = last[0] if last else {}
        started = run.get("started_at")
        table.add_row(
            spec.name,
            str(spec.every_minutes),
            spec.description,
            started.isoformat(" ", "seconds") if started else "",
            run.get("status", ""),
            str(run.get("rows") or ""),
        )
    console.print(table)


@jobs_app.command("run")
def jobs_run(
    name: Annotated[str, typer.Argument(help="Job name (see bogda jobs list).")], database_url: DbOption = None
) -> None:
    """Run one job now and show its log row."""
    from bogda.jobs import JOBS, run_once

    if name not in JOBS:
        err.print(f"[red]error[/red] unknown job {name!r}; known: {', '.join(JOBS)}")
        raise typer.Exit(2)
    row = run_once(_store(database_url), JOBS[name])
    console.print(f"{name}: {row['status']} rows={row['rows']}")
    if row["status"] != "ok":
        err.print(row["error"], markup=False)
        raise typer.Exit(1)


# --- source tracing (governance.md §3.11): PMF source apportionment with EPA ESAT --------------------------------

tracing_app = typer.Typer(
    help="Source tracing: PM2.5 source apportionment by PMF (EPA ESAT in its own environment, `make esat`).",
    no_args_is_help=True,
)
app.add_typer(tracing_app, name="tracing")


def _pairs(values: list[str] | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values or []:
        key, sep, value = v.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise typer.BadParameter(f"{what} {v!r}: expected NAME=VALUE")
        out[key.strip()] = value.strip()
    return out


@tracing_app.command("apportion")
def tracing_apportion(
    conc: Annotated[Path, typer.Argument(help="Concentrations: samples × species (CSV, or tab-separated .txt).")],
    unc: Annotated[Path, typer.Argument(help="Uncertainties, same samples and species.")],
    factors: Annotated[int, typer.Option(help="Number of factors (4–9 usual).")] = 6,
    models: Annotated[int, typer.Option(help="Models from different random starts; the best Q(robust) is kept.")] = 20,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same ESAT version → same result).")] = 42,
    bootstrap: Annotated[int, typer.Option(help="Block-bootstrap runs for the factor mapping check (0 = none).")] = 20,
    category: Annotated[
        list[str] | None, typer.Option(help="Override a species' category: SPECIES=strong|weak|bad (repeatable).")
    ] = None,
    area: Annotated[str | None, typer.Option(help="Place code the receptor stands for (to adopt shares).")] = None,
    site: Annotated[str, typer.Option(help="Receptor station code or name.")] = "",
    aqi_target: Annotated[
        str | None,
        typer.Option(
            help="Station or area code whose stored daily AQI > 200 marks the heavy days (default: --area); "
            "without stored AQI the samples' own PM2.5 > 150 µg/m³ stands in."
        ),
    ] = None,
    esat_python: Annotated[
        Path | None, typer.Option(help="Python of the ESAT environment (default: BOGDA_ESAT_PYTHON or .esat-venv).")
    ] = None,
    store_run: Annotated[bool, typer.Option("--store/--no-store", help="Store the run (failures too).")] = True,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the run's record to this file.")] = None,
    database_url: DbOption = None,
) -> None:
    """Apportion PM2.5 to sources with ESAT PMF; print S/N, Q, PM2.5 by factor and suggested labels; store it."""
    import json

    from bogda.tracing import apportionment as ap
    from bogda.tracing import esat, runs

    settings = ap.Settings(factors=factors, models=models, seed=seed, bootstrap_n=bootstrap)
    dataset = f"{conc.name} + {unc.name}"
    st = _store(database_url) if store_run else None
    try:
        conc_m, unc_m = ap.read_matrix(conc), ap.read_matrix(unc)
        target = aqi_target or area
        heavy = runs.heavy_days(st or _store(database_url), target, list(conc_m.index)) if target else None
        overrides = ap.parse_categories(",".join(category or []))
        record = esat.apportion(conc_m, unc_m, settings, overrides=overrides, heavy_days=heavy, python=esat_python)
    except ap.ApportionmentError as exc:
        err.print(f"[red]error[/red] {exc}", markup=True, highlight=False)
        if st is not None:
            rid = runs.store_failure(st, settings, str(exc), area_code=area, site=site, dataset=dataset)
            err.print(f"failed run stored as #{rid}")
        raise typer.Exit(1) from None
    for m in record["messages"]:
        err.print(m, markup=False)
    table = Table(title="species (S/N, category)")
    for col in ("species", "S/N", "category"):
        table.add_column(col)
    for s in record["species"]:
        table.add_row(s["species"], f"{s['sn']:.3f}", s["category"])
    console.print(table)
    e = record["esat"]
    ratio = "—" if record["q_ratio"] is None else f"{record['q_ratio']:.2f}"
    console.print(
        f"ESAT {e['esat_version']}: best model {e['best_model'] + 1} of {len(e['models'])}, Q(true) "
        f"{record['q_true']:.2f}, Q(robust) {record['q_robust']:.2f}, Q(expected) {record['q_expected']:.0f}, "
        f"Q/Qexp {ratio}; {e['train_seconds']} s"
    )
    mass = Table(title=f"{record['mass_species'] or 'mass'} by factor (µg/m³, share of modelled)")
    for col in ("group", "samples", "factor", "label", "mass", "share", "modelled / observed"):
        mass.add_column(col)
    for r in record["mass"]:
        label = record["labels"][r["factor"]]
        obs = "—" if r["observed_mean"] is None else f"{r['modelled_total']:.2f} / {r['observed_mean']:.2f}"
        mass.add_row(
            r["group"],
            str(r["samples"]),
            r["factor"],
            f"{label['label']} {label['label_zh']}",
            f"{r['mass']:.2f}",
            f"{r['share']:.3f}",
            obs,
        )
    console.print(mass)
    poor = [r for r in record["residuals"] if r["within"] < ap.RESIDUAL_SHARE_MIN]
    for r in poor:
        err.print(f"residuals: {r['species']} has {1 - r['within']:.1%} of scaled residuals outside ±3")
    for b in record["bootstrap"] or []:
        if not b["ok"]:
            err.print(f"bootstrap: {b['factor']} mapped in {b['share']:.0%} of runs (< 80 %): not a stable factor")
    if json_out is not None:
        json_out.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
    if st is not None:
        rid = runs.store_run(st, record, area_code=area, site=site, dataset=dataset)
        console.print(f"stored as run #{rid}; adopt its shares with `bogda tracing adopt {rid} --label F1=… …`")


@tracing_app.command("runs")
def tracing_runs(database_url: DbOption = None) -> None:
    """List the stored PMF runs."""
    from bogda.tracing import runs

    table = Table()
    for col in ("id", "when", "site", "area", "factors", "status", "Q(true)", "adopted"):
        table.add_column(col)
    for r in runs.list_runs(_store(database_url)):
        q = "—" if r["q_true"] is None else f"{r['q_true']:.1f}"
        table.add_row(
            str(r["id"]),
            r["created_at"].isoformat(" ", "minutes"),
            r["site"],
            r["area_code"] or "",
            str(r["factors"]),
            r["status"] if r["status"] == "done" else f"failed: {r['error'][:60]}",
            q,
            r["adopted_doc"] or "",
        )
    console.print(table)


@tracing_app.command("adopt")
def tracing_adopt(
    run_id: Annotated[int, typer.Argument(help="Stored run id (bogda tracing runs).")],
    label: Annotated[
        list[str],
        typer.Option(help="Label of each factor: F1=sulfate|nitrate|biomass|coal|dust|traffic|industry|other."),
    ],
    area: Annotated[str | None, typer.Option(help="Place code (default: the run's).")] = None,
    year: Annotated[int | None, typer.Option(help="Study year.")] = None,
    by: Annotated[str | None, typer.Option(help="Login of the analyst (audited).")] = None,
    database_url: DbOption = None,
) -> None:
    """Adopt a run's PM2.5 shares as the area's source shares (the emission-based estimate of emergency lists)."""
    from bogda.forecast.source_share import SourceShareError
    from bogda.tracing import runs
    from bogda.tracing.apportionment import ApportionmentError

    st = _store(database_url)
    try:
        ids = runs.adopt_shares(st, run_id, _pairs(label, "--label"), area_code=area, study_year=year, by=by)
    except (ApportionmentError, SourceShareError, LookupError) as exc:
        err.print(f"[red]error[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    console.print(f"{len(ids)} source shares stored (ids {', '.join(map(str, ids))})")


def main() -> None:
    app()
