"""Image stages around the network: deskew and layout mapping (``preprocess``), class masks
(``threshold``), track detection (``detect``), the layout draft from a scan (``layout_scan``) and
the OCR of printed depth numbers (``ocr``). numpy/OpenCV only."""
