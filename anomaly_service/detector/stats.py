"""Vectorised normal-tail helpers (numpy has no erf)."""

from __future__ import annotations

import numpy as np

_LN10 = float(np.log(10.0))


def log_erfc(x: np.ndarray) -> np.ndarray:
    """ln(erfc(x)) for x >= 0, accurate to ~1e-7 relative (Numerical Recipes' erfcc).

    Working in logs keeps tails far beyond float underflow ordered, which the NAB threshold
    sweep needs (ties at 1.0 would merge very different deviations).
    """
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = -1.26551223 + t * (
        1.00002368
        + t
        * (
            0.37409196
            + t
            * (
                0.09678418
                + t
                * (
                    -0.18628806
                    + t
                    * (
                        0.27886807
                        + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))
                    )
                )
            )
        )
    )
    return np.asarray(np.log(t) - z * z + poly)


def neg_log10_tail(z: np.ndarray) -> np.ndarray:
    """-log10 P(Z > z) for a standard normal Z, for any z (vectorised)."""
    z = np.asarray(z, dtype=float)
    pos = np.maximum(z, 0.0)
    # upper tail = erfc(z / sqrt 2) / 2 for z >= 0; below 0 the tail is > 0.5
    upper = -(log_erfc(pos / np.sqrt(2.0)) + np.log(0.5)) / _LN10
    neg_tail = 1.0 - 0.5 * np.exp(log_erfc(np.maximum(-z, 0.0) / np.sqrt(2.0)))
    below = -np.log10(np.clip(neg_tail, 1e-300, 1.0))
    return np.asarray(np.where(z >= 0.0, upper, below))
