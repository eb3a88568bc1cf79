"""The edges: scans in (``scan``), layout files read, checked and written (``layout``), LAS header
fields (``lasfields``), LAS out (``las``) and atomic output (``atomic``)."""
