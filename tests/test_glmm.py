"""The random-intercept logistic estimator against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sparse
from scipy import integrate, special
from scipy.optimize import minimize_scalar
from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM

from analysis import glmm


def simulate_clusters(n_groups, size, sigma, beta, seed):
    """Bernoulli outcomes with a normal random intercept; ``size`` an int or an inclusive (low, high)."""
    rng = np.random.default_rng(seed)
    sizes = np.full(n_groups, size) if np.isscalar(size) else rng.integers(size[0], size[1] + 1, n_groups)
    groups = np.repeat(np.arange(n_groups), sizes)
    n = len(groups)
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    intercepts = sigma * rng.standard_normal(n_groups)
    y = rng.binomial(1, special.expit(X @ np.asarray(beta) + intercepts[groups]))
    return X, y.astype(float), groups


def loglik_by_quadrature(X, y, groups, beta, sigma):
    """The exact marginal log-likelihood: adaptive scipy quadrature of each group's integral."""
    total = 0.0
    for group in np.unique(groups):
        rows = groups == group
        eta, outcome = X[rows] @ beta, y[rows]

        def integrand(b, eta=eta, outcome=outcome):
            linear = eta + sigma * b
            return np.exp(np.sum(outcome * linear - np.logaddexp(0.0, linear)) - 0.5 * b * b) / np.sqrt(2 * np.pi)

        value, _ = integrate.quad(integrand, -np.inf, np.inf, epsabs=0.0, epsrel=1e-12, limit=200)
        total += np.log(value)
    return total


@pytest.fixture(scope="module")
def small_problem():
    return simulate_clusters(n_groups=30, size=(2, 25), sigma=1.2, beta=[-0.3, 0.7, 0.4], seed=11)


@pytest.mark.parametrize("beta, sigma", [([-0.25, 0.65, 0.3], 1.1), ([0.4, -0.2, 1.0], 2.5), ([-0.3, 0.7, 0.4], 0.3)])
def test_aghq25_loglik_matches_direct_integration(small_problem, beta, sigma):
    X, y, groups = small_problem
    exact = loglik_by_quadrature(X, y, groups, np.array(beta), sigma)
    assert glmm.marginal_loglik(X, y, groups, beta, sigma, nodes=25) == pytest.approx(exact, abs=1e-6)
    # The check has teeth: the Laplace approximation is visibly off on these small clusters.
    assert abs(glmm.marginal_loglik(X, y, groups, beta, sigma, nodes=1) - exact) > 1e-3


def test_loglik_at_the_optimum_matches_direct_integration(small_problem):
    X, y, groups = small_problem
    fit = glmm.fit(X, y, groups, nodes=25)
    assert fit.converged
    assert fit.loglik == pytest.approx(loglik_by_quadrature(X, y, groups, fit.beta, fit.sigma), abs=1e-6)


def test_binomial_rows_give_the_bernoulli_likelihood(small_problem):
    X, y, groups = small_problem
    X_int = np.column_stack([X[:, 0], X[:, 2]])  # discrete columns only, so rows can be collapsed
    keys, inverse = np.unique(np.column_stack([groups, X_int]), axis=0, return_inverse=True)
    successes = np.bincount(inverse.ravel(), weights=y)
    trials = np.bincount(inverse.ravel())
    collapsed = glmm.marginal_loglik(keys[:, 1:], successes, keys[:, 0], [0.1, 0.5], 1.3, nodes=7, trials=trials)
    assert collapsed == pytest.approx(glmm.marginal_loglik(X_int, y, groups, [0.1, 0.5], 1.3, nodes=7), abs=1e-9)


@pytest.mark.parametrize("nodes", [1, 4, 15])
def test_analytic_gradient_matches_finite_differences(small_problem, nodes):
    X, y, groups = small_problem
    data, _ = glmm.GroupedData.from_arrays(X, y, groups)
    params = np.array([-0.2, 0.6, 0.5, 0.9])
    analytic = glmm.evaluate(data, params[:3], params[3], nodes).gradient
    step = 1e-6
    numeric = [
        (
            glmm.evaluate(data, (params + e)[:3], (params + e)[3], nodes).loglik
            - glmm.evaluate(data, (params - e)[:3], (params - e)[3], nodes).loglik
        )
        / (2 * step)
        for e in np.eye(4) * step
    ]
    np.testing.assert_allclose(analytic, numeric, atol=1e-6)


def test_laplace_and_aghq_agree_on_large_clusters():
    X, y, groups = simulate_clusters(n_groups=40, size=200, sigma=0.6, beta=[-0.5, 0.8, 0.4], seed=5)
    laplace = glmm.fit(X, y, groups, nodes=1)
    quadrature = glmm.fit(X, y, groups, nodes=25)
    assert np.max(np.abs(laplace.beta - quadrature.beta) / quadrature.beta_se) < 1e-3
    assert laplace.sigma == pytest.approx(quadrature.sigma, rel=1e-3)
    np.testing.assert_allclose(laplace.beta_se, quadrature.beta_se, rtol=1e-3)
    assert laplace.loglik == pytest.approx(quadrature.loglik, abs=0.1)


def test_laplace_shrinks_sigma_and_slopes_on_small_binary_clusters():
    # Pairs of binary outcomes with a large σ: the setting where Laplace is known to underestimate
    # the variance component and attenuate the fixed effects (Breslow & Lin 1995; Joe 2008).
    X, y, groups = simulate_clusters(n_groups=1500, size=2, sigma=2.0, beta=[0.0, 1.0, 0.5], seed=0)
    laplace = glmm.fit(X, y, groups, nodes=1)
    quadrature = glmm.fit(X, y, groups, nodes=25)
    assert laplace.converged and quadrature.converged
    assert laplace.sigma < 0.85 * quadrature.sigma
    assert abs(quadrature.sigma - 2.0) < 1.96 * quadrature.sigma_se
    assert abs(laplace.beta[1]) < abs(quadrature.beta[1])
    assert abs(laplace.beta[2]) < abs(quadrature.beta[2])


def test_agrees_with_statsmodels_variational_bayes():
    X, y, groups = simulate_clusters(n_groups=100, size=(10, 40), sigma=0.8, beta=[-0.5, 0.8, 0.4], seed=7)
    fit = glmm.fit(X, y, groups, nodes=10)
    indicators = sparse.csr_matrix((np.ones(len(groups)), (np.arange(len(groups)), groups)))
    bayes = BinomialBayesMixedGLM(y, X, indicators, np.zeros(indicators.shape[1], dtype=int)).fit_vb()
    np.testing.assert_array_equal(np.sign(fit.beta), np.sign(bayes.fe_mean))
    np.testing.assert_allclose(fit.beta, bayes.fe_mean, atol=0.5 * fit.beta_se.max(), rtol=0.1)
    assert fit.sigma == pytest.approx(np.exp(bayes.vcp_mean[0]), rel=0.15)


def test_recovers_parameters_of_the_generating_model():
    X, y, groups = simulate_clusters(n_groups=300, size=(15, 40), sigma=0.7, beta=[-0.4, 0.8, 0.5], seed=3)
    fit = glmm.fit(X, y, groups, nodes=10)
    assert fit.converged and fit.gradient_norm < 1e-6
    z = (fit.beta - np.array([-0.4, 0.8, 0.5])) / fit.beta_se
    assert np.all(np.abs(z) < 1.96)
    low, high = fit.sigma2_ci
    assert low < 0.49 < high
    assert fit.icc == pytest.approx(fit.sigma2 / (fit.sigma2 + np.pi**2 / 3))
    assert fit.aic == pytest.approx(-2 * fit.loglik + 2 * 4)


def test_empirical_bayes_intercepts_are_modes_with_laplace_sd():
    X, y, groups = simulate_clusters(n_groups=30, size=(5, 30), sigma=1.0, beta=[-0.2, 0.5, 0.3], seed=4)
    fit = glmm.fit(X, y, groups, nodes=1)
    offset = X @ fit.beta
    for j in (0, 7, 29):
        rows = groups == j

        def negative_posterior(u, rows=rows):
            linear = offset[rows] + u
            return -(np.sum(y[rows] * linear - np.logaddexp(0, linear)) - 0.5 * u * u / fit.sigma2)

        mode = minimize_scalar(negative_posterior, bracket=(-3, 3), tol=1e-12).x
        p = special.expit(offset[rows] + mode)
        assert fit.group_modes[j] == pytest.approx(mode, abs=1e-6)
        assert fit.group_mode_se[j] == pytest.approx(1 / np.sqrt(np.sum(p * (1 - p)) + 1 / fit.sigma2), rel=1e-6)
        assert fit.group_n[j] == rows.sum()
    # With one node the posterior mean is the mode.
    np.testing.assert_array_equal(fit.group_posterior_mean, fit.group_modes)


def test_zero_variance_data_end_at_the_boundary_or_near_it():
    X, y, groups = simulate_clusters(n_groups=60, size=20, sigma=0.0, beta=[0.2, 0.6, -0.4], seed=9)
    fit = glmm.fit(X, y, groups, nodes=5)
    assert fit.converged
    assert fit.sigma < 0.3
    assert np.all(np.isfinite(fit.beta_se))
    assert fit.loglik >= glmm.logistic_loglik(X, y) - 1e-8


def test_same_data_give_identical_numbers(small_problem):
    X, y, groups = small_problem
    first, second = glmm.fit(X, y, groups, nodes=7), glmm.fit(X, y, groups, nodes=7)
    np.testing.assert_array_equal(first.beta, second.beta)
    np.testing.assert_array_equal(first.covariance, second.covariance)
    assert first.sigma == second.sigma and first.loglik == second.loglik
    # Row order does not matter beyond floating-point summation order.
    order = np.random.default_rng(0).permutation(len(y))
    shuffled = glmm.fit(X[order], y[order], groups[order], nodes=7)
    np.testing.assert_allclose(shuffled.beta, first.beta, rtol=1e-7)


def test_logistic_loglik_survives_quasi_separation():
    from analysis.glmm import logistic_loglik

    # The second column predicts the outcome perfectly where it is 1: the MLE runs off to infinity
    # and the information matrix becomes singular, but the maximised log-likelihood is finite.
    X = np.column_stack([np.ones(8), [1, 1, 0, 0, 0, 0, 0, 0]])
    y = np.array([1, 1, 1, 0, 1, 0, 0, 1])
    # Sup of the likelihood: the separated pair contributes 0; the rest is an intercept-only fit at 0.5.
    assert logistic_loglik(X, y) == pytest.approx(6 * np.log(0.5), abs=1e-6)
