"""Emotion geometry (vectors, subspaces, alignment) and residual steering."""
