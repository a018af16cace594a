"""Bradley–Terry strengths from pairwise win counts, by Hunter's (2004) MM algorithm, batched over bootstrap draws.

Model: P(i beats j) = σ(θ_i − θ_j). A small symmetric prior (``prior`` pseudo-wins each way for every pair) keeps
the estimate finite when a system wins or loses every comparison and ties disconnected systems to the mean;
with hundreds of comparisons its pull is negligible.
"""

import numpy as np
from jaxtyping import Float, Real


def fit_bradley_terry(wins: Real[np.ndarray, "*batch system system"], *, prior: float = 0.5, max_iter: int = 20000,
                      tol: float = 1e-10) -> Float[np.ndarray, "*batch system"]:
    """Log-strengths θ (mean 0 per batch row) maximising the BT likelihood of ``wins`` (``wins[i, j]``: i beat j).

    Args:
        wins: win counts (or bootstrap-weighted counts), any leading batch dims.
        prior: pseudo-wins added each way to every pair (> 0 keeps θ finite).
    Returns:
        θ in natural-log units: θ_i − θ_j is the log-odds that i beats j.
    """
    k = wins.shape[-1]
    w = np.asarray(wins, dtype=float) + prior * (1.0 - np.eye(k))
    games = w + np.swapaxes(w, -1, -2)
    won = w.sum(-1)
    log_p = np.zeros(w.shape[:-1])
    for _ in range(max_iter):
        p = np.exp(log_p)
        denom = (games / (p[..., :, None] + p[..., None, :])).sum(-1)
        with np.errstate(divide="ignore"):
            new = np.log(won) - np.log(denom)
        new -= new.mean(-1, keepdims=True)
        done = np.nanmax(np.abs(new - log_p)) < tol if new.size else True
        log_p = new
        if done:
            break
    return log_p


def win_probabilities(theta: Float[np.ndarray, "*batch system"]) -> Float[np.ndarray, "*batch system system"]:
    """P(i beats j) = σ(θ_i − θ_j)."""
    return 1.0 / (1.0 + np.exp(-(theta[..., :, None] - theta[..., None, :])))


def log_likelihood(theta: Float[np.ndarray, " system"], wins: Real[np.ndarray, "system system"]) -> float:
    """Σ_ij wins[i, j] · log σ(θ_i − θ_j) (for checks against a generic optimiser)."""
    return float((wins * np.log(win_probabilities(theta))).sum())
