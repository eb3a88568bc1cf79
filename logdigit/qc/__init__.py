"""Quality-control output: the QC image (``image``) and the self-contained HTML viewer (``viewer``)."""
