"""The benchmark: `python -m bench` (bench/README.md). A tool run from the
repository root, not part of either service: it starts `python -m
model_service` (and, with `--peers`, the raw floor, MLflow serving and
MLServer) as processes and measures them from outside."""
