"""jobs: the line of training jobs, their places, stopping and failures.

The training itself is replaced by a fake that holds its place until the test lets it finish,
so the order of events is under the test's control (train_model has its own tests).
"""

import threading
import time

import numpy as np
import pytest

import mnist_core.jobs as jobs
from mnist_core.data import MNIST_CLASS_NAMES, Dataset
from mnist_core.jobs import FAILED, FINISHED, RUNNING, WAITING, TrainingJob, TrainingQueue
from mnist_core.model import ModelConfig
from mnist_core.train import (
    STOP_COMPLETED,
    STOP_REQUESTED,
    BatchProgress,
    EpochMetrics,
    TrainingPlan,
    TrainingResult,
)

CONFIG = ModelConfig(
    architecture="dense",
    layer_sizes=(8,),
    layer_activations=("relu",),
    layer_dropout_rates=(0.0,),
    kernel_sizes=(),
    dense_units=0,
    epochs=2,
)


@pytest.fixture
def dataset():
    return Dataset(
        name="mnist",
        x_train=np.zeros((20, 28, 28), dtype=np.uint8),
        y_train=np.arange(20, dtype=np.uint8) % 10,
        x_test=np.zeros((10, 28, 28), dtype=np.uint8),
        y_test=np.arange(10, dtype=np.uint8),
        class_names=MNIST_CLASS_NAMES,
        source="test",
    )


class FakeTraining:
    """Stands in for train_model: reports one batch, then waits to be finished or stopped."""

    def __init__(self):
        self.finish = threading.Event()
        self.error: Exception | None = None

    def __call__(self, config, dataset, observer, *, progress_interval_seconds=0.25):
        if self.error is not None:
            raise self.error
        observer.on_train_begin(TrainingPlan(2, 4, 20, 10, "split"))
        observer.on_batch(BatchProgress(1, 2, 2, 4, 1.5, 0.25, 0.1, 200.0, 0.3))
        stopped = False
        while not self.finish.is_set():
            if observer.should_stop():
                stopped = True
                break
            time.sleep(0.01)
        if not stopped:
            observer.on_epoch(EpochMetrics(1, 2, 1.2, 0.4, 1.1, 0.5, 0.2, 100.0), [])
        return TrainingResult(
            model=None,
            config=config,
            history=[],
            weight_summaries=[],
            stop_reason=STOP_REQUESTED if stopped else STOP_COMPLETED,
            message="stopped" if stopped else "done",
            training_seconds=0.2,
            test_loss=1.0,
            test_accuracy=0.5,
            train_samples=len(dataset.x_train),
        )


@pytest.fixture
def fake_training(monkeypatch):
    fake = FakeTraining()
    monkeypatch.setattr(jobs, "train_model", fake)
    yield fake
    fake.finish.set()


def wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


def test_second_job_waits_in_line_while_the_first_runs(fake_training, dataset):
    queue = TrainingQueue(max_running=1)
    first = TrainingJob(CONFIG, dataset, queue).start()
    wait_for(lambda: first.snapshot().state == RUNNING)
    second = TrainingJob(CONFIG, dataset, queue).start()
    wait_for(lambda: second.snapshot().place_in_line == 1)

    snapshot = second.snapshot()
    assert snapshot.state == WAITING and not snapshot.done
    assert first.snapshot().place_in_line == 0
    assert queue.running == 1

    fake_training.finish.set()
    assert first.wait(5) and second.wait(5)
    assert first.snapshot().state == second.snapshot().state == FINISHED
    assert queue.running == 0


def test_places_follow_the_order_of_arrival(fake_training, dataset):
    queue = TrainingQueue(max_running=1)
    first = TrainingJob(CONFIG, dataset, queue).start()
    wait_for(lambda: first.snapshot().state == RUNNING)
    second = TrainingJob(CONFIG, dataset, queue).start()
    wait_for(lambda: second.snapshot().place_in_line == 1)
    third = TrainingJob(CONFIG, dataset, queue).start()
    wait_for(lambda: third.snapshot().place_in_line == 2)
    assert second.snapshot().place_in_line == 1
    fake_training.finish.set()
    for job in (first, second, third):
        assert job.wait(5)


def test_stopping_a_waiting_job_cancels_it_and_moves_the_line_up(fake_training, dataset):
    queue = TrainingQueue(max_running=1)
    first = TrainingJob(CONFIG, dataset, queue).start()
    wait_for(lambda: first.snapshot().state == RUNNING)
    second = TrainingJob(CONFIG, dataset, queue).start()
    wait_for(lambda: second.snapshot().place_in_line == 1)
    third = TrainingJob(CONFIG, dataset, queue).start()
    wait_for(lambda: third.snapshot().place_in_line == 2)

    second.stop()
    assert second.wait(5)
    cancelled = second.snapshot()
    assert cancelled.state == FAILED and cancelled.done
    assert cancelled.error == "Cancelled while waiting in line."
    assert cancelled.result is None
    wait_for(lambda: third.snapshot().place_in_line == 1)
    assert first.snapshot().state == RUNNING

    fake_training.finish.set()
    assert third.wait(5) and third.snapshot().state == FINISHED


def test_a_failing_job_reports_its_error_and_frees_its_place(fake_training, dataset):
    fake_training.error = RuntimeError("out of memory")
    queue = TrainingQueue(max_running=1)
    job = TrainingJob(CONFIG, dataset, queue).start()
    assert job.wait(5)
    snapshot = job.snapshot()
    assert snapshot.state == FAILED
    assert snapshot.error == "Training failed: RuntimeError: out of memory"
    assert queue.running == 0


def test_a_real_training_with_the_wrong_dataset_fails_with_the_reason(dataset):
    # No fake here: train_model checks the dataset before it imports Keras.
    job = TrainingJob(CONFIG.replace(dataset="fashion_mnist"), dataset, TrainingQueue(1)).start()
    assert job.wait(10)
    snapshot = job.snapshot()
    assert snapshot.state == FAILED
    assert "dataset must match" in snapshot.error and "fashion_mnist" in snapshot.error


def test_stopping_a_running_job_ends_it_with_its_result(fake_training, dataset):
    job = TrainingJob(CONFIG, dataset, TrainingQueue(1)).start()
    wait_for(lambda: job.snapshot().progress is not None)
    job.stop()
    assert job.wait(5)
    snapshot = job.snapshot()
    assert snapshot.stop_requested
    assert snapshot.state == FINISHED
    assert snapshot.result.stop_reason == STOP_REQUESTED


def test_the_snapshot_records_progress_history_and_in_epoch_points(fake_training, dataset):
    job = TrainingJob(CONFIG, dataset, TrainingQueue(1)).start()
    wait_for(lambda: job.snapshot().progress is not None)
    running = job.snapshot()
    assert running.plan.batches_per_epoch == 4
    # Batch 2 of 4 in epoch 1 is half an epoch.
    assert running.batch_curve == ((0.5, 1.5, 0.25),)
    fake_training.finish.set()
    assert job.wait(5)
    assert [entry.epoch for entry in job.snapshot().history] == [1]


def test_the_queue_admits_up_to_max_running_at_once():
    queue = TrainingQueue(max_running=2)
    never = threading.Event()
    assert queue.acquire(1, never) and queue.acquire(2, never)
    assert queue.running == 2
    admitted = []
    waiter = threading.Thread(target=lambda: admitted.append(queue.acquire(3, never)))
    waiter.start()
    wait_for(lambda: queue.position(3) == 1)
    queue.release(1)
    waiter.join(5)
    assert admitted == [True] and queue.position(3) == 0 and queue.running == 2
