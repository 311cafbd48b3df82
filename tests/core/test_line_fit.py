"""line_fit: the MSE, its gradient (checked by finite differences) and the least-squares line."""

import numpy as np
import pytest

from mnist_core.teaching.line_fit import (
    EXERCISE_X,
    EXERCISE_Y,
    LineFit,
    best_fit,
    exercise_points,
    gradient,
    gradient_descent_steps,
    loss_surface,
    loss_surface_grid,
    mean_squared_error,
)


@pytest.fixture
def points():
    return exercise_points()


def test_exercise_points_are_the_ten_points_of_the_exercise(points):
    x, y = points
    np.testing.assert_array_equal(x, np.arange(10))
    np.testing.assert_array_equal(y, [10, 20, 25, 30, 40, 45, 40, 50, 60, 55])
    assert tuple(x) == EXERCISE_X and tuple(y) == EXERCISE_Y


def test_mean_squared_error_by_hand():
    x = np.array([0.0, 1.0, 2.0])
    y = np.array([1.0, 3.0, 2.0])
    # Line y = x + 1 predicts 1, 2, 3: errors 0, -1, 1.
    assert mean_squared_error(1.0, 1.0, x, y) == pytest.approx(2.0 / 3.0)
    assert mean_squared_error(0.0, 0.0, x, y) == pytest.approx((1 + 9 + 4) / 3)


@pytest.mark.parametrize("slope, intercept", [(0.0, 0.0), (5.0, 14.0), (-3.5, 40.0), (12.0, -7.0)])
def test_gradient_matches_finite_differences(points, slope, intercept):
    x, y = points
    step = 1e-6
    slope_slope = (
        mean_squared_error(slope + step, intercept, x, y)
        - mean_squared_error(slope - step, intercept, x, y)
    ) / (2 * step)
    intercept_slope = (
        mean_squared_error(slope, intercept + step, x, y)
        - mean_squared_error(slope, intercept - step, x, y)
    ) / (2 * step)
    analytic = gradient(slope, intercept, x, y)
    np.testing.assert_allclose(analytic, (slope_slope, intercept_slope), rtol=1e-6, atol=1e-4)


def test_best_fit_matches_numpy_polyfit(points):
    x, y = points
    fit = best_fit(x, y)
    expected_slope, expected_intercept = np.polyfit(x, y, 1)
    assert isinstance(fit, LineFit)
    assert fit.slope == pytest.approx(expected_slope, rel=1e-12)
    assert fit.intercept == pytest.approx(expected_intercept, rel=1e-12)
    assert fit.mean_squared_error == pytest.approx(
        np.mean((np.polyval([expected_slope, expected_intercept], x) - y) ** 2)
    )


def test_gradient_is_zero_at_the_best_fit(points):
    x, y = points
    fit = best_fit(x, y)
    np.testing.assert_allclose(gradient(fit.slope, fit.intercept, x, y), (0.0, 0.0), atol=1e-9)


def test_gradient_descent_lowers_the_error_and_heads_for_the_best_fit(points):
    x, y = points
    path = gradient_descent_steps(0.0, 0.0, x, y, learning_rate=0.02, num_steps=5000)
    assert path.shape == (5001, 2)
    np.testing.assert_array_equal(path[0], (0.0, 0.0))
    errors = [mean_squared_error(slope, intercept, x, y) for slope, intercept in path]
    assert all(later <= earlier + 1e-9 for earlier, later in zip(errors, errors[1:]))
    fit = best_fit(x, y)
    np.testing.assert_allclose(path[-1], (fit.slope, fit.intercept), atol=1e-3)


def test_one_gradient_descent_step_is_the_update_rule(points):
    x, y = points
    path = gradient_descent_steps(2.0, 3.0, x, y, learning_rate=0.01, num_steps=1)
    slope_gradient, intercept_gradient = gradient(2.0, 3.0, x, y)
    np.testing.assert_allclose(
        path, [(2.0, 3.0), (2.0 - 0.01 * slope_gradient, 3.0 - 0.01 * intercept_gradient)]
    )


def test_zero_steps_returns_the_start(points):
    x, y = points
    np.testing.assert_array_equal(gradient_descent_steps(1.0, 2.0, x, y, 0.01, 0), [(1.0, 2.0)])


def test_too_large_a_learning_rate_diverges_and_stops_before_overflow(points):
    x, y = points
    path = gradient_descent_steps(0.0, 0.0, x, y, learning_rate=0.05, num_steps=100)
    errors = [mean_squared_error(slope, intercept, x, y) for slope, intercept in path[:20]]
    assert errors[-1] > errors[0]
    huge = gradient_descent_steps(0.0, 0.0, x, y, learning_rate=10.0, num_steps=10_000)
    assert len(huge) < 10_001
    assert np.all(np.isfinite(huge))


def test_loss_surface_matches_mean_squared_error(points):
    x, y = points
    slopes = np.linspace(-5, 15, 7)
    intercepts = np.linspace(-10, 50, 5)
    surface = loss_surface(x, y, slopes, intercepts)
    assert surface.shape == (5, 7)
    for row, intercept in enumerate(intercepts):
        for column, slope in enumerate(slopes):
            assert surface[row, column] == pytest.approx(mean_squared_error(slope, intercept, x, y))


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda x, y: mean_squared_error(float("nan"), 0.0, x, y), "slope"),
        (lambda x, y: gradient(0.0, "1", x, y), "intercept"),
        (lambda x, y: mean_squared_error(0.0, 0.0, x, y[:5]), "x has 10 values"),
        (lambda x, y: gradient_descent_steps(0.0, 0.0, x, y, 0.0, 1), "learning_rate"),
        (lambda x, y: gradient_descent_steps(0.0, 0.0, x, y, 0.01, -1), "num_steps"),
        (lambda x, y: gradient_descent_steps(0.0, 0.0, x, y, 0.01, 1.5), "num_steps"),
        (lambda x, y: best_fit(np.ones(3), np.arange(3)), "distinct"),
        (lambda x, y: best_fit(np.array([]), np.array([])), "non-empty"),
        (lambda x, y: loss_surface(x, y, np.ones((2, 2)), np.ones(2)), "slopes"),
    ],
)
def test_bad_input_raises_a_value_error_naming_the_field(points, call, field):
    with pytest.raises(ValueError, match=field):
        call(*points)


def test_loss_surface_grid_spans_the_ranges_and_holds_the_mse(points):
    x, y = points
    surface = loss_surface_grid(x, y, (-10.0, 20.0), (-40.0, 80.0), num_points=31)
    assert surface.slopes[0] == -10.0 and surface.slopes[-1] == 20.0 and len(surface.slopes) == 31
    assert surface.intercepts[0] == -40.0 and surface.intercepts[-1] == 80.0
    assert surface.losses.shape == (31, 31)
    assert surface.losses[3, 7] == pytest.approx(
        mean_squared_error(surface.slopes[7], surface.intercepts[3], x, y)
    )


def test_contour_levels_grow_tenfold_between_the_least_and_greatest_loss(points):
    surface = loss_surface_grid(*points, (-10.0, 20.0), (-40.0, 80.0))
    levels = surface.contour_levels()
    assert levels == sorted(levels)
    assert surface.losses.min() < levels[0] and levels[-1] < surface.losses.max()
    assert {20.0, 50.0, 100.0, 200.0, 500.0} <= set(levels)
    assert all(f"{level:g}"[0] in "125" for level in levels)


@pytest.mark.parametrize(
    "slope_range, intercept_range, num_points, field",
    [
        ((5.0, 5.0), (0.0, 1.0), 10, "slope_range"),
        ((0.0, 1.0), (2.0, float("inf")), 10, "intercept_range"),
        ((0.0, 1.0), (0.0, 1.0), 1, "num_points"),
    ],
)
def test_loss_surface_grid_rejects_bad_ranges(
    points, slope_range, intercept_range, num_points, field
):
    with pytest.raises(ValueError, match=field):
        loss_surface_grid(*points, slope_range, intercept_range, num_points)
