"""logdigit: offline raster well-log digitiser (scan -> VeerNet -> traced curves -> LAS)."""

__version__ = "0.1.0"
