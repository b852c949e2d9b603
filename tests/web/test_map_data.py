"""Map helpers: grid cells drawn as long edge lines, outlines as paths, station colours."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from bogda.registry.places import cell_index, cell_polygons
from bogda.standards import aqi as aqi_std
from bogda.web.ui.map_data import OFFLINE_COLOR, grid_paths, line_paths, station_color


def _cells_near(lon: float, lat: float, cols: int, rows: int) -> list[tuple[int, int]]:
    c0, r0 = (int(v[0]) for v in cell_index([lon], [lat]))
    return [(c0 + i, r0 + j) for i in range(cols) for j in range(rows)]


@pytest.mark.parametrize(("cols", "rows"), [(1, 1), (3, 2), (10, 7)])
def test_grid_of_a_block_is_one_line_per_boundary(cols: int, rows: int) -> None:
    cells = _cells_near(87.3, 44.0, cols, rows)
    paths = grid_paths(cells)
    # a full block has rows + 1 horizontal and cols + 1 vertical boundaries, each one contiguous run
    assert len(paths) == (rows + 1) + (cols + 1)
    # every line runs from corner to corner of the block's cells, and the block's outline is covered
    outline = shapely.union_all(cell_polygons(*np.array(cells).T)).boundary
    drawn = shapely.union_all([shapely.linestrings(p) for p in paths])
    assert outline.hausdorff_distance(drawn.intersection(outline.buffer(1e-4))) < 1e-3
    corners = {tuple(np.round(xy, 4)) for xy in shapely.get_coordinates(cell_polygons(*np.array(cells).T))}
    for p in paths:
        assert tuple(p[0]) in corners and tuple(p[-1]) in corners


def test_grid_with_a_gap_splits_the_lines() -> None:
    row = _cells_near(87.3, 44.0, 5, 1)
    cells = row[:2] + row[3:]  # a hole in the middle
    # horizontal: 2 boundaries x 2 runs; vertical: 3 + 3 edges, each alone
    assert len(grid_paths(cells)) == 2 * 2 + 6


def test_line_paths_walk_every_ring() -> None:
    square = shapely.Polygon([(0, 0), (2, 0), (2, 2), (0, 2)], holes=[[(0.5, 0.5), (1, 0.5), (1, 1), (0.5, 0.5)]])
    multi = shapely.MultiPolygon([square, shapely.box(5, 5, 6, 6)])
    paths = line_paths(shapely.geometry.mapping(multi))
    assert len(paths) == 3
    assert all(p[0] == p[-1] for p in paths)


@pytest.mark.parametrize(
    ("online", "aqi", "expected"),
    [
        (False, {"color": "#00E400"}, OFFLINE_COLOR),
        (True, {"color": aqi_std.categories()[2].hex}, aqi_std.categories()[2].hex),
        (True, None, "#BDBDBD"),
    ],
)
def test_station_colour(online: bool, aqi: dict | None, expected: str) -> None:
    assert station_color({"online": online, "aqi": aqi}) == expected
