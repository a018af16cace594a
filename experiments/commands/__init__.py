"""CLI command modules; each defines ``register(app)`` and is picked up by :mod:`experiments.cli`."""
