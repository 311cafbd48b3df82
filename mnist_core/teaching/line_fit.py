"""Fit a straight line y = m x + b to ten points: gradient descent on the smallest scale.

The bonus exercise of the course. A line has two parameters, the slope m and the
intercept b; how badly it fits is the mean squared error (MSE) of its predictions.
Gradient descent starts somewhere, computes which way the error grows fastest (the
gradient) and takes a small step the other way, again and again. For a line the answer is
also known in closed form (least squares), which lets us check where the steps lead.

Plain numpy; nothing here knows about Streamlit or Keras.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# The exercise's ten points: x = 0..9 and these y values.
EXERCISE_X = tuple(float(value) for value in range(10))
EXERCISE_Y = (10.0, 20.0, 25.0, 30.0, 40.0, 45.0, 40.0, 50.0, 60.0, 55.0)


@dataclass(frozen=True)
class LineFit:
    """A line and how well it fits.

    Attributes:
        slope: m in y = m x + b.
        intercept: b in y = m x + b.
        mean_squared_error: the mean of (m x + b - y)^2 over the points.
    """

    slope: float
    intercept: float
    mean_squared_error: float


def exercise_points() -> tuple[np.ndarray, np.ndarray]:
    """The exercise's ten points as float64 arrays (x, y), x = 0..9."""
    return np.array(EXERCISE_X), np.array(EXERCISE_Y)


def mean_squared_error(slope: float, intercept: float, x: np.ndarray, y: np.ndarray) -> float:
    """The mean squared error of the line y = slope * x + intercept on the points (x, y).

    Args:
        slope: m, the line's slope.
        intercept: b, where the line crosses x = 0.
        x: (N,) x coordinates of the points, N >= 1.
        y: (N,) y coordinates of the points.
    """
    _, residuals = _residuals(slope, intercept, x, y)
    return float(np.mean(residuals**2))


def gradient(slope: float, intercept: float, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """The gradient of the mean squared error: (dMSE/dm, dMSE/db) at (slope, intercept).

    With residuals r = m x + b - y, MSE = mean(r^2), so dMSE/dm = 2 mean(r x) and
    dMSE/db = 2 mean(r).

    Args:
        slope: m, the line's slope.
        intercept: b, where the line crosses x = 0.
        x: (N,) x coordinates of the points, N >= 1.
        y: (N,) y coordinates of the points.
    """
    x_values, residuals = _residuals(slope, intercept, x, y)
    return float(2.0 * np.mean(residuals * x_values)), float(2.0 * np.mean(residuals))


def _residuals(
    slope: float, intercept: float, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The checked x values and the residuals m x + b - y of the line on the points."""
    x_values, y_values = _check_points(x, y)
    _check_number("slope", slope)
    _check_number("intercept", intercept)
    return x_values, slope * x_values + intercept - y_values


def gradient_descent_steps(
    slope: float,
    intercept: float,
    x: np.ndarray,
    y: np.ndarray,
    learning_rate: float,
    num_steps: int,
) -> np.ndarray:
    """Take `num_steps` gradient-descent steps from (slope, intercept).

    Each step moves against the gradient: (m, b) <- (m, b) - learning_rate * gradient.
    A learning rate that is too large makes every step overshoot further than the last;
    the steps stop early once a value stops being a finite number.

    Args:
        slope: m at the start.
        intercept: b at the start.
        x: (N,) x coordinates of the points, N >= 1.
        y: (N,) y coordinates of the points.
        learning_rate: size of each step relative to the gradient, > 0.
        num_steps: how many steps to take, >= 0.

    Returns:
        float64 array (num_steps + 1, 2) of (slope, intercept): the start, then the point
        after each step (fewer rows if the steps overflowed).
    """
    x_values, y_values = _check_points(x, y)
    _check_number("slope", slope)
    _check_number("intercept", intercept)
    _check_number("learning_rate", learning_rate)
    if learning_rate <= 0:
        raise ValueError(f"learning_rate is {learning_rate!r}; expected a number > 0.")
    if isinstance(num_steps, bool) or not isinstance(num_steps, int | np.integer) or num_steps < 0:
        raise ValueError(f"num_steps is {num_steps!r}; expected an integer >= 0.")
    path = [(float(slope), float(intercept))]
    current_slope, current_intercept = float(slope), float(intercept)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(int(num_steps)):
            residuals = current_slope * x_values + current_intercept - y_values
            slope_gradient = 2.0 * float(np.mean(residuals * x_values))
            intercept_gradient = 2.0 * float(np.mean(residuals))
            current_slope -= learning_rate * slope_gradient
            current_intercept -= learning_rate * intercept_gradient
            if not (math.isfinite(current_slope) and math.isfinite(current_intercept)):
                break
            path.append((current_slope, current_intercept))
    return np.array(path, dtype=np.float64)


def best_fit(x: np.ndarray, y: np.ndarray) -> LineFit:
    """The least-squares line through the points, from the closed form.

    m = sum((x - mean x)(y - mean y)) / sum((x - mean x)^2), b = mean y - m mean x.

    Args:
        x: (N,) x coordinates, N >= 2, not all equal.
        y: (N,) y coordinates.
    """
    x_values, y_values = _check_points(x, y)
    x_centred = x_values - x_values.mean()
    spread = float(np.sum(x_centred**2))
    if len(x_values) < 2 or spread == 0.0:
        raise ValueError(
            f"x has {len(x_values)} point(s) with {len(np.unique(x_values))} distinct value(s); "
            "a line needs at least two distinct x values."
        )
    slope = float(np.sum(x_centred * (y_values - y_values.mean())) / spread)
    intercept = float(y_values.mean() - slope * x_values.mean())
    return LineFit(
        slope=slope,
        intercept=intercept,
        mean_squared_error=mean_squared_error(slope, intercept, x_values, y_values),
    )


def loss_surface(
    x: np.ndarray, y: np.ndarray, slopes: np.ndarray, intercepts: np.ndarray
) -> np.ndarray:
    """The mean squared error at every (slope, intercept) of a grid, for a contour plot.

    Args:
        x: (N,) x coordinates of the points, N >= 1.
        y: (N,) y coordinates of the points.
        slopes: (S,) slope values (the grid's columns).
        intercepts: (I,) intercept values (the grid's rows).

    Returns:
        float64 array (I, S): row i, column j is the MSE of intercepts[i], slopes[j].
    """
    x_values, y_values = _check_points(x, y)
    slope_values = _check_vector("slopes", slopes)
    intercept_values = _check_vector("intercepts", intercepts)
    # Broadcast to (I, S, N): one residual per grid point and data point.
    residuals = (
        slope_values[None, :, None] * x_values[None, None, :]
        + intercept_values[:, None, None]
        - y_values[None, None, :]
    )
    return np.mean(residuals**2, axis=-1)


@dataclass(frozen=True)
class LossSurface:
    """The mean squared error over a grid of lines, for a contour plot.

    Attributes:
        slopes: (S,) slope values, the grid's columns.
        intercepts: (I,) intercept values, the grid's rows.
        losses: (I, S) the MSE of intercepts[i], slopes[j] at row i, column j.
    """

    slopes: np.ndarray
    intercepts: np.ndarray
    losses: np.ndarray

    def contour_levels(self) -> list[float]:
        """Contour levels at 1, 2 and 5 times powers of ten (10, 20, 50, 100, ...) strictly
        between the least and the greatest loss: the valley is deep, so the levels grow
        tenfold."""
        low, high = float(self.losses.min()), float(self.losses.max())
        return [
            float(step * 10**power)
            for power in range(
                math.floor(math.log10(max(low, 1e-12))), math.ceil(math.log10(high)) + 1
            )
            for step in (1, 2, 5)
            if low < step * 10**power < high
        ]


def loss_surface_grid(
    x: np.ndarray,
    y: np.ndarray,
    slope_range: tuple[float, float],
    intercept_range: tuple[float, float],
    num_points: int = 121,
) -> LossSurface:
    """The mean squared error on an evenly spaced grid of slopes and intercepts.

    Args:
        x: (N,) x coordinates of the points, N >= 1.
        y: (N,) y coordinates of the points.
        slope_range: (lowest, highest) slope, lowest < highest.
        intercept_range: (lowest, highest) intercept, lowest < highest.
        num_points: grid points along each axis, >= 2 (default 121).
    """
    for name, (low, high) in (("slope_range", slope_range), ("intercept_range", intercept_range)):
        _check_number(f"{name}[0]", low)
        _check_number(f"{name}[1]", high)
        if not low < high:
            raise ValueError(
                f"{name} is {(low, high)!r}; expected (lowest, highest), lowest < highest."
            )
    if isinstance(num_points, bool) or not isinstance(num_points, int) or num_points < 2:
        raise ValueError(f"num_points is {num_points!r}; expected an integer >= 2.")
    slopes = np.linspace(*slope_range, num_points)
    intercepts = np.linspace(*intercept_range, num_points)
    return LossSurface(slopes, intercepts, loss_surface(x, y, slopes, intercepts))


def _check_points(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x_values = _check_vector("x", x)
    y_values = _check_vector("y", y)
    if x_values.shape != y_values.shape:
        raise ValueError(
            f"x has {x_values.size} values and y has {y_values.size}; expected one y per x."
        )
    return x_values, y_values


def _check_vector(name: str, values: np.ndarray) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} has shape {array.shape}; expected a non-empty 1-D array.")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"{name} has dtype {array.dtype}; expected numbers.")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values; expected finite numbers.")
    return array


def _check_number(name: str, value: float) -> None:
    is_number = not isinstance(value, bool) and isinstance(value, int | float | np.number)
    if not (is_number and math.isfinite(value)):
        raise ValueError(f"{name} is {value!r}; expected a finite number.")
