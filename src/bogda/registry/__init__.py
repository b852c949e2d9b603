"""Floor 3: the registry — places and the grid, sites, devices, people (architecture.md §4)."""
