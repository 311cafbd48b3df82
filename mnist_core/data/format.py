"""What every dataset here shares: 28x28 grey images, ten classes, 60,000 + 10,000 images.

The one home of these constants: the model's input, the Draw page's 28x28, the class names
and titles the pages show, the number of training images a run may ask for all read them here.
"""

from __future__ import annotations

DATASET_NAMES = ("mnist", "fashion_mnist")
# What a run may also train on: MNIST with the class's own shared drawings added, or those
# drawings alone (`data.class_drawings`). The worker loads MNIST for either: its test set is
# what every run is scored on, and "mnist_and_class" trains on its images too.
MNIST_AND_CLASS = "mnist_and_class"
CLASS_DIGITS = "class_digits"
CLASS_DATASET_NAMES = (MNIST_AND_CLASS, CLASS_DIGITS)
TRAINING_DATASET_NAMES = DATASET_NAMES + CLASS_DATASET_NAMES
# How the pages and the command line name each dataset.
DATASET_TITLES = {
    "mnist": "MNIST",
    "fashion_mnist": "Fashion-MNIST",
    MNIST_AND_CLASS: "MNIST + our class's digits",
    CLASS_DIGITS: "our class's digits",
}
MNIST_CLASS_NAMES = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")
FASHION_MNIST_CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10
# Both datasets have 60,000 training and 10,000 test images.
TRAINING_IMAGES = 60000
TEST_IMAGES = 10000


def class_names_of(dataset: str) -> tuple[str, ...]:
    """The label names of a dataset ("mnist" or "fashion_mnist")."""
    return FASHION_MNIST_CLASS_NAMES if dataset == "fashion_mnist" else MNIST_CLASS_NAMES


def dataset_title(dataset: str) -> str:
    """How a dataset is named for people: "MNIST", "Fashion-MNIST", "our class's digits"."""
    return DATASET_TITLES.get(dataset, dataset)


def base_dataset(dataset: str) -> str:
    """The dataset a worker loads for a run on `dataset`: MNIST for the class's digits (its
    test set scores every run), else the dataset itself."""
    return "mnist" if dataset in CLASS_DATASET_NAMES else dataset


def uses_class_digits(dataset: str) -> bool:
    """Whether a run on `dataset` trains on the class's shared drawings."""
    return dataset in CLASS_DATASET_NAMES
