"""ltrr: learning to rank and retrieve."""

__version__ = "0.1.0"
