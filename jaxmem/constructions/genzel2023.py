"""Dirksen, Finke, Genzel, "Memorization with neural nets: going beyond the worst case"
(JMLR 25(347), 2024; arXiv 2310.00327): Algorithm 2, the randomized three-layer threshold network.

    layer 1  n random hyperplanes: H(x) = 1[W x + b > 0],  W ~ N(0, 1)^{n x d},  b ~ U[-lam, lam]^n
    layer 2  greedy: pick a random uncovered candidate c of the covered class, u = 1 - H(c) (the
             hyperplanes where c is inactive), D(x) = <u, H(x)> (how many of those x is active on),
             m = min of D over the other class; if m > 0, a neuron 1[m - <u, H(x)> > 0] accepts
             every x with D(x) < m (always c itself, never a point of the other class)
    output   the OR of the layer-2 neurons

(digest genzel2023.md, section 2.1, read from the authors' code). Labels follow jaxmem's +-1
convention: the class labelled +1 is the one the second layer covers (the paper's X-, y = 1 in
the authors' code); the output is +1 where some neuron fires, -1 elsewhere. So a point labelled
-1 is never misclassified, and the network interpolates iff every +1 point is covered.

Vmappable: choosing a uniformly random remaining candidate at every step has the same
distribution as drawing one random priority per point and always taking the remaining candidate
of smallest priority (digest 2.6), so the greedy loop is a `lax.while_loop` over fixed-shape
masks. The second layer is padded to a static maximum (default: n_points) with a mask and a
count. All comparisons are strict, as in the paper: H(0) = 0 in layer 1, D < m to fire.

The ReLU variant (digest 2.4) replaces every threshold by a ReLU: u = 1[H(c) <= 0] and D is the
weighted one-sided distance sum_{u_i = 1} relu(<w_i, x> + b_i).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxmem import network
from jaxmem.data.validate import validate

ACTIVATIONS = ("threshold", "relu")


def first_layer(key, d: int, width: int, max_bias, dtype):
    """W ~ N(0, 1)^{width x d} (no 1/sqrt(d) scaling, as in the paper), b ~ U[-max_bias,
    max_bias]^width."""
    kw, kb = jax.random.split(key)
    W = jax.random.normal(kw, (width, d), dtype)
    b = (2 * jax.random.uniform(kb, (width,), dtype) - 1) * max_bias
    return W, b


def features(X, W, b, activation: str = "threshold"):
    """The first layer's outputs H (n_points x width): 1[Wx + b > 0] (strict) or relu."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}; got {activation!r}")
    pre = jnp.matmul(X, W.T, precision="highest") + b
    return (pre > 0).astype(X.dtype) if activation == "threshold" else jnp.maximum(pre, 0)


def _check(width, max_bias, activation, max_neurons, n_points):
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width (first-layer hyperplanes n) must be a positive int; got {width!r}")
    if not isinstance(max_bias, jax.core.Tracer) and not max_bias >= 0:
        raise ValueError(f"max_bias (lambda) must be >= 0; got {max_bias!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}; got {activation!r}")
    if max_neurons is not None and (not isinstance(max_neurons, int) or
                                    not 1 <= max_neurons <= n_points):
        raise ValueError(f"max_neurons must be an int in [1, {n_points}]; got {max_neurons!r}")


def relu_margin(width: int, dtype) -> float:
    """The ReLU variant's relative rounding margin 4 gamma_n (gamma_n = n u / (1 - n u), Higham).

    With threshold features every D is a sum of 0/1 values, exact in floating point, so the
    paper's strict comparisons are exact. With ReLU features D is a real sum whose rounding
    depends on the order of summation, which differs between this construction and the
    network's forward pass; the point of the other class where D = m is then a tie that
    rounding can break either way (measured: forward passes fired on it). So a ReLU neuron's
    threshold is m (1 - margin), below every other-class D in any summation order, and the
    bookkeeping counts x as covered only when D(x) < m (1 - margin) (1 - 2 margin), so that
    every forward pass fires on it. Points in between count as uncovered (a later neuron may
    take them).
    """
    u = float(jnp.finfo(dtype).eps) / 2
    gamma = width * u / (1 - width * u)
    return 4 * gamma


def greedy_second_layer(key, H, covered, max_neurons: int, margin: float = 0.0):
    """Algorithm 2, lines 2-11, on the feature matrix H (n_points x width, nonnegative).

    covered: bool (n_points,), the class the neurons cover (jaxmem's +1 class); the rest is the
    class no neuron may fire on. margin: 0 for threshold features (exact), relu_margin for
    ReLU features. Returns centers (max_neurons,) int32 (-1 = unused), thresholds
    m (1 - margin) (max_neurons,) (as H's dtype; integers for threshold features), the count
    k, the number of candidates tried, and the uncovered mask at exit.
    """
    n_points = H.shape[0]
    priority = jax.random.uniform(key, (n_points,))
    other = ~covered
    big = jnp.asarray(jnp.inf, H.dtype)

    def keep_going(state):
        candidates, uncovered, *_ = state
        return jnp.any(candidates) & jnp.any(uncovered)

    def step(state):
        candidates, uncovered, centers, thresholds, k, tries = state
        c = jnp.argmin(jnp.where(candidates, priority, jnp.inf))
        candidates = candidates.at[c].set(False)
        u = (H[c] <= 0).astype(H.dtype)                        # line 5: where c is inactive
        D = jnp.matmul(H, u, precision="highest")              # one-sided distances to c
        m = jnp.min(jnp.where(other, D, big))                  # over the whole other class
        accept = m > 0                                         # line 6
        m = m * (1 - margin)                                   # exact when margin = 0
        newly = covered & (D < m * (1 - 2 * margin)) & accept  # lines 7-8 (strict)
        slot = jnp.where(accept, k, max_neurons)               # out of range: dropped
        centers = centers.at[slot].set(c.astype(jnp.int32), mode="drop")
        thresholds = thresholds.at[slot].set(m, mode="drop")
        return (candidates & ~newly, uncovered & ~newly, centers, thresholds,
                k + accept.astype(jnp.int32), tries + 1)

    state = (covered, covered, jnp.full((max_neurons,), -1, jnp.int32),
             jnp.zeros((max_neurons,), H.dtype), jnp.zeros((), jnp.int32),
             jnp.zeros((), jnp.int32))
    _, uncovered, centers, thresholds, k, tries = jax.lax.while_loop(keep_going, step, state)
    return centers, thresholds, k, tries, uncovered


def build(key, X, y, *, width: int, max_bias=1.0, activation: str = "threshold",
          max_neurons: int | None = None):
    """Algorithm 2's network for +-1 labels: d -> width -> k -> 1 (OR) -> 1 (the {0, 1} -> +-1
    label map 2s - 1; not a layer of the paper's network).

    The second layer has max_neurons slots (default n_points, the most Algorithm 2 can add),
    of which the first k are active. info:
      interpolated         every +1 point is covered (the -1 class is never misclassified)
      second_layer_width   k
      uncovered            the number of +1 points no neuron accepts
      candidates_tried     greedy iterations (T <= number of +1 points)
      centers, thresholds  c_j and m_j of the neurons (-1 / 0 in unused slots)
      paper_param_count    n(d + 1) + k(n + 1) + (k + 1), the count of the paper's three layers
    """
    validate(X, y, task="binary", allow_duplicates=True)
    n_points, d = X.shape
    _check(width, max_bias, activation, max_neurons, n_points)
    max_neurons = max_neurons or n_points
    k_layer, k_order = jax.random.split(key)
    dtype = X.dtype
    W, b = first_layer(k_layer, d, width, jnp.asarray(max_bias, dtype), dtype)
    H = features(X, W, b, activation)
    margin = relu_margin(width, dtype) if activation == "relu" else 0.0
    centers, thresholds, k, tries, uncovered = greedy_second_layer(k_order, H, y > 0,
                                                                   max_neurons, margin)
    active = jnp.arange(max_neurons) < k
    # Neuron j: act(m_j - <u_j, H(x)>) with u_j = 1[H(c_j) <= 0]; unused slots are masked.
    U = (H[jnp.maximum(centers, 0)] <= 0).astype(dtype).T     # (width, max_neurons)
    U = jnp.where(active[None, :], U, 0)
    net = network.Network((
        network.Layer(W.T, b, activation=activation),
        network.Layer(-U, jnp.where(active, thresholds, 0), active, activation=activation),
        network.Layer(jnp.ones((max_neurons, 1), dtype), jnp.zeros((1,), dtype),
                      activation="threshold"),                    # OR: 1[sum_j z_j > 0]
        network.Layer(jnp.full((1, 1), 2, dtype), jnp.full((1,), -1, dtype),
                      activation="identity"),                     # {0, 1} -> {-1, +1}
    ))
    n_uncovered = jnp.sum(uncovered)
    info = dict(interpolated=n_uncovered == 0, second_layer_width=k, uncovered=n_uncovered,
                candidates_tried=tries, centers=centers, thresholds=thresholds,
                paper_param_count=width * (d + 1) + k * (width + 1) + (k + 1),
                first_layer_width=jnp.asarray(width))
    return net, info
