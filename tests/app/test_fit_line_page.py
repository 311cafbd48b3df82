"""The Fit a line page, through AppTest: sliders, gradient-descent steps and the reveal."""

import pytest
from streamlit.testing.v1 import AppTest

from mnist_core.teaching.line_fit import (
    best_fit,
    exercise_points,
    mean_squared_error,
)


@pytest.fixture
def at(new_app) -> AppTest:
    app = new_app()
    app.run()
    app.switch_page("app_pages/fit_line.py").run()
    assert not app.exception
    return app


def shown_mse(app: AppTest) -> float:
    metric = next(metric for metric in app.metric if metric.label == "Mean squared error")
    return float(metric.value.replace(",", ""))


def test_the_page_starts_from_a_flat_line(at):
    x, y = exercise_points()
    assert shown_mse(at) == pytest.approx(mean_squared_error(0.0, 0.0, x, y), abs=0.01)
    # The line with its errors, and the loss surface.
    assert len([element for element in at.main if type(element).__name__ == "Image"]) == 2


def test_sliders_change_the_mse_shown(at):
    x, y = exercise_points()
    at.slider(key="fit_line_slope").set_value(5.0).run()
    at.slider(key="fit_line_intercept").set_value(15.0).run()
    assert not at.exception
    assert shown_mse(at) == pytest.approx(mean_squared_error(5.0, 15.0, x, y), abs=0.01)
    at.slider(key="fit_line_slope").set_value(-2.0).run()
    assert shown_mse(at) == pytest.approx(mean_squared_error(-2.0, 15.0, x, y), abs=0.01)


def test_a_gradient_descent_step_lowers_the_mse(at):
    before = shown_mse(at)
    at.button(key="fit_line_step_1").click().run()
    assert not at.exception
    after_one = shown_mse(at)
    assert after_one < before
    at.button(key="fit_line_step_100").click().run()
    assert shown_mse(at) < after_one
    assert len(at.session_state["fit_line_path"]) == 1 + 1 + 100
    # The sliders follow the descent.
    slope, intercept = at.session_state["fit_line_point"]
    assert at.slider(key="fit_line_slope").value == pytest.approx(slope)
    assert not at.warning


def test_too_large_a_learning_rate_warns_that_the_error_went_up(at):
    at.select_slider(key="fit_line_learning_rate").set_value(0.04).run()
    at.button(key="fit_line_step_10").click().run()
    assert not at.exception
    assert any("learning rate is too large" in warning.value for warning in at.warning)
    # The line left the sliders' range: the slider stops at its end, and the page says so.
    slope, _ = at.session_state["fit_line_point"]
    assert not -10 <= slope <= 20
    assert any(
        f"The slope m is {slope:,.2f}, beyond its slider (-10 to 20)" in warning.value
        for warning in at.warning
    )
    at.button(key="fit_line_start_again").click().run()
    assert not at.warning
    assert at.session_state["fit_line_point"] == (0.0, 0.0)


def test_reveal_shows_the_least_squares_values(at):
    fit = best_fit(*exercise_points())
    assert not at.success
    at.toggle(key="fit_line_reveal").set_value(True).run()
    assert not at.exception
    text = at.success[0].value
    assert f"m = {fit.slope:.3f}" in text
    assert f"b = {fit.intercept:.3f}" in text
    assert f"{fit.mean_squared_error:.3f}" in text
