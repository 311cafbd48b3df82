"""Fit a line: gradient descent on ten points, where every step can be seen."""

from __future__ import annotations

import streamlit as st

from app_glue.line_fit_figures import (
    line_figure,
    surface,
    surface_figure,
)
from mnist_core.teaching.line_fit import (
    best_fit,
    exercise_points,
    gradient,
    gradient_descent_steps,
    mean_squared_error,
)

SLOPE_RANGE = (-10.0, 20.0)
INTERCEPT_RANGE = (-40.0, 80.0)
START = (0.0, 0.0)
LEARNING_RATES = (0.001, 0.003, 0.01, 0.02, 0.03, 0.04)
STEP_COUNTS = (1, 10, 100)

st.session_state.setdefault("fit_line_point", START)  # (m, b) where the descent stands
st.session_state.setdefault("fit_line_path", [START])  # every (m, b) since the last slider move
st.session_state.setdefault("fit_line_previous_mse", None)  # the MSE before the last change
st.session_state.setdefault("fit_line_diverged", False)
# The sliders' values live in session state (the descent moves them), so they get no value=.
st.session_state.setdefault("fit_line_slope", START[0])
st.session_state.setdefault("fit_line_intercept", START[1])

x, y = exercise_points()


def current_mse() -> float:
    """The error of the line where the descent stands."""
    slope, intercept = st.session_state["fit_line_point"]
    return mean_squared_error(slope, intercept, x, y)


def move_by_hand() -> None:
    """A slider moved: the line is where the sliders say, and a new descent starts there."""
    st.session_state["fit_line_previous_mse"] = current_mse()
    point = (st.session_state["fit_line_slope"], st.session_state["fit_line_intercept"])
    st.session_state["fit_line_point"] = point
    st.session_state["fit_line_path"] = [point]
    st.session_state["fit_line_diverged"] = False


def take_steps(num_steps: int) -> None:
    """Walk `num_steps` gradient-descent steps on from where the line stands."""
    before = current_mse()
    slope, intercept = st.session_state["fit_line_point"]
    path = gradient_descent_steps(
        slope, intercept, x, y, st.session_state["fit_line_learning_rate"], num_steps
    )
    point = (float(path[-1][0]), float(path[-1][1]))
    st.session_state["fit_line_previous_mse"] = before
    st.session_state["fit_line_point"] = point
    st.session_state["fit_line_path"] = st.session_state["fit_line_path"] + [
        (float(slope_value), float(intercept_value)) for slope_value, intercept_value in path[1:]
    ]
    st.session_state["fit_line_diverged"] = current_mse() > before or len(path) <= num_steps
    # The sliders follow the descent (as far as their range goes).
    st.session_state["fit_line_slope"] = min(max(point[0], SLOPE_RANGE[0]), SLOPE_RANGE[1])
    st.session_state["fit_line_intercept"] = min(
        max(point[1], INTERCEPT_RANGE[0]), INTERCEPT_RANGE[1]
    )


def outside_the_sliders(point: tuple[float, float]) -> str | None:
    """What to say when the descent took m or b past its slider's end (the slider stops at
    its end; the line does not)."""
    parts = [
        f"{name} is {value:,.2f}, beyond its slider ({low:g} to {high:g})"
        for name, value, (low, high) in (
            ("the slope m", point[0], SLOPE_RANGE),
            ("the intercept b", point[1], INTERCEPT_RANGE),
        )
        if not low <= value <= high
    ]
    if not parts:
        return None
    return (
        " and ".join(parts)[:1].upper()
        + " and ".join(parts)[1:]
        + ": the steps overshot the valley. Start again, with a smaller learning rate."
    )


def start_again() -> None:
    """Back to the flat line y = 0 with no steps taken."""
    st.session_state["fit_line_previous_mse"] = None
    st.session_state["fit_line_point"] = START
    st.session_state["fit_line_path"] = [START]
    st.session_state["fit_line_diverged"] = False
    st.session_state["fit_line_slope"], st.session_state["fit_line_intercept"] = START


st.title("Fit a line")
st.caption(
    "Before a network with thousands of weights, one with two: a straight line y = m x + b. "
    "Training means finding the m and b that make the smallest error, and gradient descent "
    "finds them one small step at a time. Everything a network does in training happens here too."
)

controls, results = st.columns([1, 2], gap="large")
with controls:
    st.markdown("##### Move the line yourself")
    st.slider(
        "m (slope)",
        *SLOPE_RANGE,
        step=0.1,
        key="fit_line_slope",
        on_change=move_by_hand,
        persist_state="session",
        help="How steeply the line climbs: y grows by m for each step in x.",
    )
    st.slider(
        "b (intercept)",
        *INTERCEPT_RANGE,
        step=0.5,
        key="fit_line_intercept",
        on_change=move_by_hand,
        persist_state="session",
        help="Where the line crosses x = 0.",
    )
    beyond = outside_the_sliders(st.session_state["fit_line_point"])
    if beyond:
        st.warning(beyond, icon=":material/open_in_full:")
    st.markdown("##### Or let gradient descent do it")
    st.select_slider(
        "Learning rate",
        options=LEARNING_RATES,
        value=0.01,
        key="fit_line_learning_rate",
        persist_state="session",
        help="How far each step goes, relative to the slope of the error.",
    )
    st.caption(
        "Each step works out which way the error grows fastest (the gradient) and moves "
        "m and b a little the other way. Too small a learning rate crawls; too large "
        "overshoots the valley and climbs out of it."
    )
    with st.container(horizontal=True, key="fit_line_steps"):  # wraps; never cuts "100 steps"
        for count in STEP_COUNTS:
            st.button(
                "1 step" if count == 1 else f"{count} steps",
                key=f"fit_line_step_{count}",
                on_click=take_steps,
                args=(count,),
            )
    st.button("Start again from m = 0, b = 0", key="fit_line_start_again", on_click=start_again)
    reveal = st.toggle(
        "Reveal the best fit",
        key="fit_line_reveal",
        persist_state="session",
        help="For a line there is a formula (least squares); for a network there is none.",
    )

slope, intercept = st.session_state["fit_line_point"]
mse = current_mse()
slope_gradient, intercept_gradient = gradient(slope, intercept, x, y)
best = best_fit(x, y)
best_point = (best.slope, best.intercept) if reveal else None

with results:
    previous = st.session_state["fit_line_previous_mse"]
    numbers = st.columns(3)
    numbers[0].metric(
        "Mean squared error",
        f"{mse:,.2f}",
        delta=None if previous is None else f"{mse - previous:,.2f}",
        delta_color="inverse",
        help="The average of the squared red bars: how far the line misses the points.",
    )
    numbers[1].metric("m (slope)", f"{slope:.3f}")
    numbers[2].metric("b (intercept)", f"{intercept:.3f}")
    steps_taken = len(st.session_state["fit_line_path"]) - 1
    st.caption(
        f"Steps taken: {steps_taken}. The gradient here is dMSE/dm = {slope_gradient:,.1f}, "
        f"dMSE/db = {intercept_gradient:,.1f}: the next step moves m and b against it."
    )
    if reveal:
        st.success(
            f"Least squares: m = {best.slope:.3f}, b = {best.intercept:.3f}, "
            f"mean squared error = {best.mean_squared_error:.3f}."
        )
        st.caption(
            "m = Σ(x − x̄)(y − ȳ) / Σ(x − x̄)², b = ȳ − m x̄. Gradient descent ends up here too, "
            "given enough steps; with a network's millions of weights no such formula "
            "exists, and descending step by step is the only way."
        )
    if st.session_state["fit_line_diverged"]:
        st.warning(
            "The error went up: the learning rate is too large. Each step overshoots the "
            "bottom of the valley and lands higher on the other side. Pick a smaller "
            "learning rate and start again."
        )

left, right = st.columns(2, gap="large")
with left:
    st.pyplot(line_figure(x, y, slope, intercept, best_point))
    st.caption("The red bars are the errors; squared and averaged they give the MSE.")
with right:
    grid = surface(x, y, SLOPE_RANGE, INTERCEPT_RANGE)
    st.pyplot(surface_figure(grid, st.session_state["fit_line_path"], best_point))
    st.caption(
        "The error for every (m, b), darker is worse: a long, narrow valley. Each step goes "
        "straight downhill, which points mostly across the valley, so the steps zigzag "
        "and then creep slowly along it."
    )
