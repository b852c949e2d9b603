"""bogda: environmental supervision and command platform."""

__version__ = "0.1.0"
