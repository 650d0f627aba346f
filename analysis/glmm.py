"""Random-intercept logistic regression by maximum likelihood (Laplace / adaptive Gauss–Hermite).

The model is the one lme4's ``glmer(y ~ x + (1 | group), family = binomial, nAGQ = K)`` fits:

    y_ij ~ Binomial(n_ij, logistic(x_ij'β + σ b_j)),   b_j ~ N(0, 1) independently.

The random intercept is written as σ·b with standard-normal b (lme4's θ-parametrisation) rather
than u ~ N(0, σ²): the marginal likelihood is then smooth in σ down to and including σ = 0, so the
boundary needs no special case and the optimiser can work on σ ≥ 0 directly.

Each group's integral over b is approximated around its conditional mode b̂_j with K adaptive
Gauss–Hermite nodes (K = 1 is the Laplace approximation). The gradient of the approximated
log-likelihood is analytic, including the dependence of the modes and curvatures on (β, σ) through
the implicit-function theorem, so the optimum is found to a gradient norm near machine precision
and the observed information (finite differences of the analytic gradient) is accurate.

Rows are sorted by group and summarised per group over each group's consecutive rows; the
per-group Newton iterations for the modes run for all groups at once. Rows may carry binomial
trials, so identical covariate patterns within a group can be collapsed before fitting (same
likelihood, fewer rows).
"""

from __future__ import annotations

import functools
import math
import sys
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

LOGISTIC_VARIANCE = math.pi**2 / 3
MAX_NODES = 25
Z_95 = stats.norm.ppf(0.975)
MAX_LOG_FLOAT = math.log(sys.float_info.max)

MAX_NEWTON_STEPS = 20
NEWTON_DECREMENT_TOL = 1e-10

# Rows per block of the weighted Gram matrix of ordinary logistic regression (a few megabytes).
GRAM_ROW_BLOCK = 16384
# Past this many row×node values, node-wise probabilities are recomputed rather than cached.
_NODE_CACHE_LIMIT = 4_000_000


@dataclass(frozen=True)
class GroupedData:
    """Rows sorted by group, with everything the likelihood needs."""

    X: np.ndarray  # (n, p) fixed-effects design
    successes: np.ndarray  # (n,)
    trials: np.ndarray  # (n,)
    group_index: np.ndarray  # (n,) 0..G-1, non-decreasing
    n_groups: int
    group_starts: np.ndarray  # (G,) first row of each group

    @classmethod
    def from_arrays(cls, X, successes, groups, trials=None) -> tuple[GroupedData, np.ndarray]:
        """Sort rows by group; also return the group labels in index order."""
        X = np.asarray(X, dtype=float)
        successes = np.asarray(successes, dtype=float)
        trials = np.ones_like(successes) if trials is None else np.asarray(trials, dtype=float)
        labels, group_index = np.unique(np.asarray(groups), return_inverse=True)
        order = np.argsort(group_index, kind="stable")
        if np.any(successes < 0) or np.any(successes > trials):
            raise ValueError("successes must lie between 0 and trials")
        data = cls(
            X=np.ascontiguousarray(X[order]),
            successes=successes[order],
            trials=trials[order],
            group_index=group_index[order],
            n_groups=len(labels),
            group_starts=np.searchsorted(group_index[order], np.arange(len(labels))),
        )
        return data, labels

    def group_sum(self, row_values: np.ndarray) -> np.ndarray:
        # Every group has rows and they are contiguous: one pass over consecutive slices, about
        # twice as fast as a weighted bincount (which also scans the group index for its range).
        return np.add.reduceat(row_values, self.group_starts)


def _logistic_parts(eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log(1 + e^η) and the probability 1/(1 + e^-η), stably and from a single exponential.

    In-place steps keep the number of fresh row-length temporaries low: on large arrays their
    page faults, not the arithmetic, dominate the cost.
    """
    e = np.exp(-np.abs(eta))
    log1pexp = np.log1p(e)
    log1pexp += np.maximum(eta, 0.0)
    probability = np.subtract(1.0, e)
    probability /= 1.0 + e  # tanh(|η|/2)
    np.copysign(probability, eta, out=probability)
    probability += 1.0
    probability *= 0.5
    return log1pexp, probability


def conditional_modes(
    data: GroupedData, offset: np.ndarray, sigma: float, start: np.ndarray | None = None, tol: float = 1e-10
) -> tuple[np.ndarray, np.ndarray]:
    """Per-group mode b̂ of h(b) = log p(y | b) + log φ(b), and the curvature H = -h''(b̂).

    Damped Newton, vectorised over groups: h is strictly concave, so halving a step until h does not
    decrease always succeeds and the iteration converges from any start.
    """
    G = data.n_groups
    if sigma == 0.0:
        return np.zeros(G), np.ones(G)
    y, m, gi = data.successes, data.trials, data.group_index

    def at(b_values):
        eta = offset + sigma * b_values[gi]
        log1pexp, p = _logistic_parts(eta)
        return data.group_sum(y * eta - m * log1pexp) - 0.5 * b_values**2, p

    b = np.zeros(G) if start is None else start.copy()
    h, p = at(b)
    for _ in range(100):
        score = sigma * data.group_sum(y - m * p) - b
        curvature = sigma**2 * data.group_sum(m * p * (1.0 - p)) + 1.0
        step = score / curvature
        if np.max(np.abs(step)) < tol:
            return b, curvature
        for _ in range(60):
            candidate = b + step
            h_candidate, p_candidate = at(candidate)
            worse = h_candidate < h - 1e-12 * np.abs(h)
            if not worse.any():
                break
            step = np.where(worse, 0.5 * step, step)
        b, h, p = candidate, h_candidate, p_candidate
    raise RuntimeError("conditional modes did not converge")


@dataclass
class _Evaluation:
    loglik: float
    gradient: np.ndarray  # d loglik / d(β, σ)
    modes: np.ndarray
    curvature: np.ndarray
    posterior_mean: np.ndarray  # E[b | y] under the quadrature
    posterior_sd: np.ndarray


@functools.cache
def _gauss_hermite(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Hermite nodes and log weights times e^(z²), solved for once: the eigenvalue problem
    behind them took 7 % of each likelihood evaluation at scale 1."""
    z, w = np.polynomial.hermite.hermgauss(nodes)
    log_w = np.log(w) + z**2
    z.flags.writeable = log_w.flags.writeable = False  # shared by every later call
    return z, log_w


def evaluate(data: GroupedData, beta: np.ndarray, sigma: float, nodes: int, mode_start=None) -> _Evaluation:
    """The AGHQ (nodes = 1: Laplace) marginal log-likelihood and its exact gradient in (β, σ)."""
    if not 1 <= nodes <= MAX_NODES:
        raise ValueError(f"nodes must be between 1 and {MAX_NODES}")
    X, y, m, gi = data.X, data.successes, data.trials, data.group_index
    offset = X @ beta
    b_hat, H = conditional_modes(data, offset, sigma, start=mode_start)
    s = 1.0 / np.sqrt(H)

    z, log_w = _gauss_hermite(nodes)
    G, K = data.n_groups, nodes
    node_positions = b_hat[:, None] + math.sqrt(2.0) * s[:, None] * z[None, :]  # (G, K)

    # η at node k is base + spread·z_k, so the y·η part of h sums per group without a row pass.
    base = offset + sigma * b_hat[gi]
    spread = (sigma * math.sqrt(2.0)) * s[gi]
    y_base, y_spread = data.group_sum(y * base), data.group_sum(y * spread)
    y_total = data.group_sum(y)
    h_nodes = np.empty((G, K))
    residual_sums = np.empty((G, K))  # Σ_i (y - m p) at each node
    cache_probabilities = data.X.shape[0] * K <= _NODE_CACHE_LIMIT
    cached = []
    for k in range(K):
        log1pexp, p = _logistic_parts(base + spread * z[k])
        p *= m
        if cache_probabilities:
            cached.append(p)
        log1pexp *= m
        h_nodes[:, k] = y_base + z[k] * y_spread - data.group_sum(log1pexp) - 0.5 * node_positions[:, k] ** 2
        residual_sums[:, k] = y_total - data.group_sum(p)
    h_nodes -= 0.5 * math.log(2.0 * math.pi)

    weighted = log_w[None, :] + h_nodes
    top = weighted.max(axis=1, keepdims=True)
    group_loglik = math.log(math.sqrt(2.0)) + np.log(s) + top[:, 0] + np.log(np.exp(weighted - top).sum(axis=1))
    node_share = np.exp(weighted - top)
    node_share /= node_share.sum(axis=1, keepdims=True)  # π_jk: each node's share of group j's integral

    # Derivatives of the approximation with the nodes held fixed, then the chain rule through b̂ and s.
    h_prime_nodes = sigma * residual_sums - node_positions
    d_mode = (node_share * h_prime_nodes).sum(axis=1)  # ∂ℓ/∂b̂
    d_scale = 1.0 / s + (node_share * h_prime_nodes * (math.sqrt(2.0) * z[None, :])).sum(axis=1)  # ∂ℓ/∂s

    p_hat = _logistic_parts(base)[1]
    q_hat = m * p_hat * (1.0 - p_hat)
    third = q_hat * (1.0 - 2.0 * p_hat)
    S1 = data.group_sum(y - m * p_hat)
    S2 = data.group_sum(q_hat)
    S3 = data.group_sum(third)

    # β: db̂/dβ = -σ Σ q x / H;  dH/dβ = σ² Σ q(1-2p) x + σ³ S3 db̂/dβ;  ds/dβ = -s³/2 · dH/dβ.
    half_s3_dscale = 0.5 * s**3 * d_scale
    through_mode = d_mode - half_s3_dscale * sigma**3 * S3
    # Σ_k π_k (y - m p_k) = y - Σ_k π_k m p_k, since the shares sum to one.
    share_by_node = np.ascontiguousarray(node_share.T)
    expected_successes = np.zeros_like(y)
    for k in range(K):
        mp = cached[k] if cache_probabilities else m * _logistic_parts(base + spread * z[k])[1]
        expected_successes += share_by_node[k][gi] * mp
    row_weight = y - expected_successes
    row_weight -= (through_mode * sigma / H)[gi] * q_hat
    row_weight -= (half_s3_dscale * sigma**2)[gi] * third
    grad_beta = X.T @ row_weight

    # σ: ∂h(a)/∂σ = a Σ(y - m p(a));  db̂/dσ = (S1 - σ b̂ S2) / H;  ∂H/∂σ = 2σ S2 + σ² b̂ S3.
    partial_sigma = (node_share * node_positions * residual_sums).sum(axis=1)
    d_mode_d_sigma = (S1 - sigma * b_hat * S2) / H
    dH_d_sigma = 2.0 * sigma * S2 + sigma**2 * b_hat * S3 + sigma**3 * S3 * d_mode_d_sigma
    grad_sigma = np.sum(partial_sigma + d_mode * d_mode_d_sigma - half_s3_dscale * dH_d_sigma)

    posterior_mean = (node_share * node_positions).sum(axis=1)
    posterior_var = (node_share * (node_positions - posterior_mean[:, None]) ** 2).sum(axis=1)
    if K == 1:
        posterior_var = s**2  # one node carries no spread: use the Laplace (Gaussian) variance
    return _Evaluation(
        loglik=float(group_loglik.sum()),
        gradient=np.append(grad_beta, grad_sigma),
        modes=b_hat,
        curvature=H,
        posterior_mean=posterior_mean,
        posterior_sd=np.sqrt(posterior_var),
    )


def marginal_loglik(X, successes, groups, beta, sigma, nodes=1, trials=None) -> float:
    """The approximated marginal log-likelihood at given parameters (for checks against integration)."""
    data, _ = GroupedData.from_arrays(X, successes, groups, trials)
    return evaluate(data, np.asarray(beta, dtype=float), float(sigma), nodes).loglik


@dataclass
class GlmmResult:
    term_names: list[str]
    beta: np.ndarray
    sigma: float
    covariance: np.ndarray  # of (β, σ), inverse observed information
    loglik: float
    n_obs: int  # Bernoulli observations (sum of trials)
    n_groups: int
    nodes: int
    converged: bool
    iterations: int
    gradient_norm: float
    at_boundary: bool
    group_labels: np.ndarray
    group_modes: np.ndarray  # conditional modes of u = σ b
    group_mode_se: np.ndarray  # conditional SD of u at the mode (Laplace curvature)
    group_posterior_mean: np.ndarray
    group_posterior_sd: np.ndarray
    group_n: np.ndarray
    group_successes: np.ndarray
    messages: list[str] = field(default_factory=list)

    @property
    def method(self) -> str:
        return "laplace" if self.nodes == 1 else "aghq"

    @property
    def n_params(self) -> int:
        return len(self.beta) + 1

    @property
    def aic(self) -> float:
        return -2.0 * self.loglik + 2.0 * self.n_params

    @property
    def beta_se(self) -> np.ndarray:
        return np.sqrt(np.diag(self.covariance)[: len(self.beta)])

    @property
    def sigma_se(self) -> float:
        return float(np.sqrt(self.covariance[-1, -1]))

    @property
    def sigma2(self) -> float:
        return self.sigma**2

    @property
    def sigma2_se(self) -> float:
        return 2.0 * self.sigma * self.sigma_se  # delta method

    @property
    def sigma2_ci(self) -> tuple[float, float]:
        """Wald interval on log σ, mapped to σ² (stays positive, less skewed than on σ² itself)."""
        if self.sigma <= 0 or not np.isfinite(self.sigma_se):
            return (0.0, float("nan"))
        half_width = Z_95 * self.sigma_se / self.sigma
        log_upper = math.log(self.sigma2) + 2 * half_width
        # σ near 0 with a huge standard error (a variance the sample cannot tell from zero) puts the
        # upper bound beyond any float: it is then unknown, as for σ = 0.
        upper = math.exp(log_upper) if log_upper < MAX_LOG_FLOAT else float("nan")
        return (self.sigma2 * math.exp(-2 * half_width), upper)

    @property
    def icc(self) -> float:
        return self.sigma2 / (self.sigma2 + LOGISTIC_VARIANCE)

    def coefficient_table(self) -> pd.DataFrame:
        se = self.beta_se
        z = self.beta / se
        return pd.DataFrame(
            {
                "term": self.term_names,
                "estimate": self.beta,
                "std_error": se,
                "z": z,
                "p_value": 2.0 * stats.norm.sf(np.abs(z)),
                "ci_low_log": self.beta - Z_95 * se,
                "ci_high_log": self.beta + Z_95 * se,
            }
        )

    def random_effects_table(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "unit": self.group_labels,
                "estimate": self.group_modes,
                "std_error": self.group_mode_se,
                "posterior_mean": self.group_posterior_mean,
                "posterior_sd": self.group_posterior_sd,
                "n": self.group_n.astype(int),
                "n_achieved": self.group_successes.astype(int),
            }
        )


def _logistic_start(X: np.ndarray, y: np.ndarray, m: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
    """Ordinary logistic regression by IRLS (from ``start``, else from zero): the σ = 0 fit, a good start for β."""
    beta = np.zeros(X.shape[1]) if start is None else np.array(start, dtype=float)
    for _ in range(50):
        p = special.expit(X @ beta)
        weight = m * p * (1 - p)
        # lstsq, not solve: under (quasi-)separation in a small subgroup the weights vanish and
        # the information matrix is singular; the minimum-norm step still climbs the likelihood.
        step = np.linalg.lstsq(_weighted_gram(X, weight), X.T @ (y - m * p), rcond=None)[0]
        beta += step
        if np.max(np.abs(step)) < 1e-10:
            break
    return beta


def _weighted_gram(X: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Xᵀ·diag(weight)·X, a block of rows at a time: the weighted copy of the design is then a few
    megabytes instead of the design's size (445 MB for M1 at scale 100), and no slower."""
    gram = np.zeros((X.shape[1], X.shape[1]))
    for start in range(0, len(X), GRAM_ROW_BLOCK):
        block = X[start : start + GRAM_ROW_BLOCK]
        gram += block.T @ (block * weight[start : start + GRAM_ROW_BLOCK, None])
    return gram


def logistic_loglik(X, successes, trials=None, start=None) -> float:
    """Maximised log-likelihood of the ordinary logistic regression (the model with σ = 0).

    ``start``: coefficients to start IRLS from; near the maximum, it takes fewer iterations over
    the rows (each one a pass over the whole design).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(successes, dtype=float)
    m = np.ones_like(y) if trials is None else np.asarray(trials, dtype=float)
    eta = X @ _logistic_start(X, y, m, start)
    return float(np.sum(y * eta - m * _logistic_parts(eta)[0]))


def _numerical_hessian(gradient_at, params: np.ndarray) -> np.ndarray:
    """Central differences of the analytic gradient, symmetrised."""
    k = len(params)
    hessian = np.empty((k, k))
    for j in range(k):
        step = 1e-5 * max(1.0, abs(params[j]))
        up, down = params.copy(), params.copy()
        up[j] += step
        down[j] -= step
        hessian[:, j] = (gradient_at(up) - gradient_at(down)) / (2 * step)
    return 0.5 * (hessian + hessian.T)


def fit(
    X,
    successes,
    groups,
    nodes: int = 1,
    trials=None,
    term_names: list[str] | None = None,
    gradient_tol: float = 1e-6,
) -> GlmmResult:
    """Maximum-likelihood fit of the random-intercept logistic model.

    Quasi-Newton (L-BFGS-B, σ ≥ 0) from the ordinary logistic fit, then Newton steps on the
    numerical Hessian of the analytic gradient until a step would gain less than 1e-10 in
    log-likelihood (the Newton decrement); that Hessian also gives the observed information for
    the standard errors of β and σ. ``converged`` means that criterion was met with a negative
    definite Hessian; the final gradient norm is reported beside it and is normally far below
    ``gradient_tol``, which only adds a message when exceeded.
    Every step is deterministic: the same data give the same numbers.
    """
    data, labels = GroupedData.from_arrays(X, successes, groups, trials)
    p = data.X.shape[1]
    term_names = list(term_names) if term_names is not None else [f"x{j}" for j in range(p)]
    messages: list[str] = []

    beta0 = _logistic_start(data.X, data.successes, data.trials)
    start = np.append(beta0, 1.0)

    # Successive evaluations start their mode search from the previous modes (the parameters
    # move little between calls); the call sequence is fixed, so results stay reproducible.
    previous_modes: list[np.ndarray | None] = [None]

    def evaluate_at(params) -> _Evaluation:
        ev = evaluate(data, params[:p], float(params[p]), nodes, mode_start=previous_modes[0])
        previous_modes[0] = ev.modes
        return ev

    def negative(params):
        ev = evaluate_at(params)
        return -ev.loglik, -ev.gradient

    def gradient_at(params):
        return evaluate_at(params).gradient

    bounds = [(None, None)] * p + [(0.0, None)]
    result = optimize.minimize(
        negative,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": 500, "ftol": 1e-14, "gtol": 1e-9, "maxcor": 20},
    )
    params = result.x
    iterations = int(result.nit)
    at_boundary = params[p] < 1e-6

    if at_boundary:
        # σ = 0 is a stationary point in σ (the likelihood is even in σ); polish β alone.
        params[p] = 0.0
    free = slice(0, p) if at_boundary else slice(0, p + 1)

    def free_gradient(q):
        full = params.copy()
        full[free] = q
        return gradient_at(full)[free]

    # Newton on the free parameters; the Hessian at the last point is the observed information.
    converged = False
    for _ in range(MAX_NEWTON_STEPS):
        gradient = gradient_at(params)[free]
        hessian = _numerical_hessian(free_gradient, params[free])
        try:
            step = -np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            break
        # Newton decrement: the log-likelihood a full step would still gain under the quadratic model.
        decrement = 0.5 * float(gradient @ step)
        if 0.0 <= decrement < NEWTON_DECREMENT_TOL:
            # Too close for a line search to see any gain in floating point; the quadratic model
            # is exact enough here, so take the step (it shrinks the gradient by orders of magnitude).
            params[free] += step
            gradient = gradient_at(params)[free]
            iterations += 1
            converged = True
            break
        current = negative(params)[0]
        for halving in range(15):
            trial = params.copy()
            trial[free] += 0.5**halving * step
            if trial[p] >= 0 and negative(trial)[0] < current:
                break
        else:
            break
        params = trial
        iterations += 1

    gradient_norm = float(np.linalg.norm(gradient))
    if not converged:
        messages.append("Newton iterations stopped before the decrement criterion was met")
    if gradient_norm > gradient_tol:
        messages.append(f"gradient norm {gradient_norm:.3g} above {gradient_tol:g}")
    if at_boundary:
        messages.append("σ estimated at the boundary 0; its standard error is not defined")

    covariance = np.full((p + 1, p + 1), np.nan)
    try:
        covariance[free, free] = np.linalg.inv(-hessian)
    except np.linalg.LinAlgError:
        converged = False
        messages.append("observed information is singular")
    if not np.all(np.diag(covariance)[:p] > 0):
        converged = False
        messages.append("observed information is not positive definite")

    beta, sigma = params[:p], float(params[p])
    final = evaluate_at(params)
    return GlmmResult(
        term_names=term_names,
        beta=beta,
        sigma=sigma,
        covariance=covariance,
        loglik=final.loglik,
        n_obs=int(data.trials.sum()),
        n_groups=data.n_groups,
        nodes=nodes,
        converged=bool(converged),
        iterations=iterations,
        gradient_norm=gradient_norm,
        at_boundary=bool(at_boundary),
        group_labels=labels,
        group_modes=sigma * final.modes,
        group_mode_se=sigma / np.sqrt(final.curvature),
        group_posterior_mean=sigma * final.posterior_mean,
        group_posterior_sd=sigma * final.posterior_sd,
        group_n=data.group_sum(data.trials),
        group_successes=data.group_sum(data.successes),
        messages=messages,
    )
