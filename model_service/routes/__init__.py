"""HTTP routes, one module per protocol; each is a thin layer over the
`Predictor` that parses, calls it and formats."""
