"""The RQ worker: entry point (python -m worker) and job functions."""
