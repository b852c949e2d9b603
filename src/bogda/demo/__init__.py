"""The Changji demo: real boundaries and national stations, simulated enterprises and data (floor 7)."""
