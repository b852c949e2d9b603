"""The ``bogda`` command line (a face: it parses input, calls a service, prints the result)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
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
) -> None:
    """Build the Changji demo region (real boundaries and national stations, simulated enterprises and data)
    and serve the console."""
    from bogda.demo.region import build_demo_region
    from bogda.demo.simulate import load_recent
    from bogda.registry.people import generate_password, reset_password

    settings = _settings(database_url)
    st = _store(database_url)
    with console.status("building the Changji demo region (boundaries, 3 km grid cells, stations, enterprises)…"):
        region = build_demo_region(st)
    with console.status(f"simulating {days} days of hourly station data…"):
        n = load_recent(st, region.stations, days=days)
    password = generate_password()
    with st.begin() as conn:
        reset_password(conn, "admin", password, must_change=True)
    table = Table(title="Changji demo region 昌吉州演示区域")
    table.add_column("what")
    table.add_column("count", justify="right")
    for what, count in (
        ("places 区域", len(region.places)),
        ("stations 站点", len(region.stations)),
        ("enterprises 企业", len(region.enterprises)),
        ("values written 写入数据", n),
    ):
        table.add_row(what, str(count))
    console.print(table)
    console.print(f"console 控制台: [bold]http://{host}:{port}[/bold]")
    console.print(f"login 登录: [bold]admin[/bold]  one-time password 一次性密码: [bold]{password}[/bold]")
    st.dispose()
    if serve:
        from bogda.web.server import serve as run

        run(settings, host, port)


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
    run(settings, host or settings.web.host, port or settings.web.port)


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
            err.print(f"  {e}")
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


def main() -> None:
    app()
