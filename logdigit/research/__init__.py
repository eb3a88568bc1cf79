"""Research code, not part of the digitising product: synthetic sheets (``synth``), training data
(``data``), training (``train``), evaluation (``evaluate``, ``metrics``), the loss comparison
(``compare``, ``machine``) and the loss library (``losses``). Nothing in the product imports it."""
