"""Circuits: attention-delta head screening, ablation, head/activation patching, OV/QK decomposition, roles."""
