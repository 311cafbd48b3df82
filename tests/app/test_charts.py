"""The app's charts and their summaries (app_glue.charts, value_charts, chart_summaries): plain
Vega-Lite specs in one style, and one sentence in numbers for each."""

import json

import pytest

from app_glue.chart_summaries import (
    confusion_summary,
    curves_summary,
    noise_summary,
    probability_summary,
)
from app_glue.charts import (
    MARKERS,
    PALETTE,
    confusion_spec,
    curves_spec,
    log_axis,
    per_class_spec,
)
from app_glue.probability_chart import (
    BARS_CLASS,
    ROLE_COLOURS,
    probability_bars_html,
    probability_rows,
)
from app_glue.value_charts import histogram_spec
from mnist_core.data.format import class_names_of

DIGITS = class_names_of("mnist")


def one_run_rows() -> list[dict]:
    rows = []
    for epoch, training, validation in ((1, 0.31, 0.25), (2, 0.12, 0.15)):
        rows.append({"epoch": epoch - 0.5, "metric": "loss", "split": "training", "value": 2.1})
        rows.append({"epoch": epoch, "metric": "loss", "split": "training", "value": training})
        rows.append({"epoch": epoch, "metric": "loss", "split": "validation", "value": validation})
    return rows


def test_a_log_loss_axis_is_ticked_at_powers_of_ten_only():
    scale, axis = log_axis([0.05, 0.3, 2.3])
    assert scale["type"] == "log" and scale["domain"][0] < 0.05 and scale["domain"][1] > 2.3
    assert axis["values"] == [0.1, 1.0]
    # Within one power of ten, 2 and 5 times it as well.
    assert log_axis([0.12, 0.45])[1]["values"] == [0.1, 0.2, 0.5]
    # Just above a power of ten: the axis starts there.
    assert log_axis([0.12, 2.1])[1]["values"] == [0.1, 1.0]
    # Counts from 1 up, at most six labels.
    assert log_axis([2.0, 64_000_000.0], low=1)[1]["values"] == [1.0, 100.0, 10_000.0, 1e6]


def test_curves_of_one_run_in_the_app_style():
    spec = curves_spec(one_run_rows(), "loss", epochs=2, log_scale=True)
    json.dumps(spec)  # a plain spec, no Altair object
    assert spec["autosize"]["type"] == "fit"
    assert spec["config"]["range"]["category"] == list(PALETTE)
    assert spec["config"]["legend"]["labelLimit"] >= 500  # whole run names
    assert spec["encoding"]["y"]["axis"]["values"] == [0.1, 1.0]
    assert spec["encoding"]["x"]["scale"]["domain"] == [0, 2]
    summary = curves_summary(one_run_rows(), "loss")
    assert summary == "After 2 epochs: training loss 0.12, validation loss 0.15."


def test_several_runs_differ_by_point_shape_as_well_as_colour():
    labels = ["adam (aaaaaa)", "sgd (bbbbbb)"]
    rows = [{**row, "run": label} for label in labels for row in one_run_rows()]
    spec = curves_spec(rows, "loss", log_scale=True, run_labels=labels)
    points = spec["layer"][1]["encoding"]
    assert points["shape"]["scale"] == {"domain": labels, "range": list(MARKERS[:2])}
    assert spec["encoding"]["color"]["legend"] == points["shape"]["legend"]  # one legend
    assert curves_summary(rows, "loss", run_labels=labels) == (
        "Validation loss after each run's last epoch: adam (aaaaaa) 0.15 (epoch 2); "
        "sgd (bbbbbb) 0.15 (epoch 2)."
    )
    per_class = [
        {"run": label, "class": name, "class_index": index, "accuracy": 0.9}
        for label in labels
        for index, name in enumerate(DIGITS)
    ]
    assert per_class_spec(per_class, labels)["encoding"]["x"]["sort"] == list(DIGITS)


def bars_of(probabilities, names, **roles):
    """The probability bars' HTML, parsed: (bars as (title, height, colour, figure), names,
    the root's attributes)."""
    from html.parser import HTMLParser

    class Bars(HTMLParser):
        def __init__(self):
            super().__init__()
            self.root, self.bars, self.names, self.stack = None, [], [], []

        def handle_starttag(self, tag, attributes):
            attributes = dict(attributes)
            self.root = self.root or attributes
            self.stack.append(attributes)
            style = attributes.get("style", "")
            if "title" in attributes:
                self.bars.append([attributes["title"], None, None, None])
            elif "background:#" in style and self.bars and self.bars[-1][1] is None:
                height = style.split(";height:")[1].split(";")[0]
                colour = style.split("background:")[1].split(";")[0]
                self.bars[-1][1:3] = [height, colour]

        def handle_endtag(self, tag):
            self.stack.pop()

        def handle_data(self, data):
            style = self.stack[-1].get("style", "") if self.stack else ""
            if "bottom:calc(" in style:
                self.bars[-1][3] = data
            elif "font-size:13px" in style or "white-space:nowrap" in style:
                self.names.append((data, "rotate(" in style))

    parser = Bars()
    parser.feed(probability_bars_html(probability_rows(probabilities, names, **roles), "Sum."))
    return parser.bars, parser.names, parser.root


def test_the_probability_bars_show_each_class_its_role_and_the_figures_worth_reading():
    probabilities = [0.0, 0.62, 0.0, 0.004, 0.0, 0.0, 0.0, 0.37, 0.006, 0.0]
    bars, names, root = bars_of(probabilities, DIGITS, answer=1, truth=7)
    assert root["class"] == BARS_CLASS and root["role"] == "img" and root["aria-label"] == "Sum."
    assert [bar[0] for bar in bars][:2] == ["0: 0.0%", "1: 62.0%"]
    assert [bar[1] for bar in bars][1] == "62.00%" and bars[3][1] == "0.40%"
    colours = [bar[2] for bar in bars]
    assert colours[1] == ROLE_COLOURS["answer"] and colours[7] == ROLE_COLOURS["truth"]
    assert set(colours[:1] + colours[2:7] + colours[8:]) == {ROLE_COLOURS["other"]}
    # Only bars of at least 1% are written on: ten "0%" would hide the answer.
    assert [bar[3] for bar in bars if bar[3]] == ["62%", "37%"]
    assert names == [(name, False) for name in DIGITS]


def test_bars_at_zero_before_a_drawing_and_no_class_name_taken_for_markup():
    bars, _, _ = bars_of([0.0] * 10, DIGITS, answer=None)
    assert {bar[1] for bar in bars} == {"0.00%"} and not any(bar[3] for bar in bars)
    assert {bar[2] for bar in bars} == {ROLE_COLOURS["other"]}
    html = probability_bars_html(
        probability_rows([1.0], ["<b>x</b>"], answer=0), 'a "quoted" <summary>'
    )
    assert "<b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert 'aria-label="a &quot;quoted&quot; &lt;summary&gt;"' in html


@pytest.mark.parametrize("dataset, tilted", [("mnist", False), ("fashion_mnist", True)])
def test_digits_stand_upright_and_long_class_names_are_tilted(dataset, tilted):
    names = class_names_of(dataset)
    _, shown, _ = bars_of([0.1] * 10, names, answer=0)
    assert shown == [(name, tilted) for name in names]


def test_the_probability_summary_names_the_two_highest_and_a_missed_truth():
    probabilities = [0.0, 0.01, 0.02, 0.005, 0.0, 0.0, 0.0, 0.961, 0.004, 0.0]
    assert probability_summary(probabilities, DIGITS) == "Highest: 7 at 96.1%; next: 2 at 2.0%."
    assert probability_summary(probabilities, DIGITS, truth=1).endswith(
        "The true class, 1, gets 1.0%."
    )


def test_the_confusion_matrix_summary_counts_the_right_answers_and_the_worst_mix_ups():
    from mnist_core.evaluation.confusion import confusion_cells

    matrix = [[0] * 10 for _ in range(10)]
    for digit in range(10):
        matrix[digit][digit] = 100
    matrix[4][9], matrix[7][2] = 12, 3
    cells = confusion_cells(matrix, DIGITS)
    assert confusion_summary(cells) == (
        "1,000 of 1,015 right (the diagonal). Most mixed up: 4 taken for 9 (12 times), 7 for 2 (3)."
    )
    spec = confusion_spec(cells, DIGITS, chosen=(4, 9), selectable=True)
    assert spec["layer"][0]["params"][0]["name"] == "cell"


def test_a_histogram_with_log_counts_leaves_empty_bins_out():
    bins = [{"start": 0, "end": 8, "count": 600_000}, {"start": 8, "end": 16, "count": 0}]
    spec = histogram_spec(bins, value_title="pixel value", count_title="pixels", log_count=True)
    assert spec["data"]["values"] == bins[:1]
    assert spec["encoding"]["y2"] == {"datum": 1}


def test_the_noise_summary_gives_the_ends_and_guessing():
    points = [{"sigma": sigma / 10, "accuracy": 1 - sigma / 12} for sigma in range(11)]
    assert noise_summary(points, num_classes=10) == (
        "Test accuracy 100.0% without noise, 58.3% at sigma 0.5, 16.7% at sigma 1; "
        "guessing scores 10%."
    )
