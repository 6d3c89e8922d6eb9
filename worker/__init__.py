"""The worker container: entry point (python -m worker), its processes and job functions."""
