"""mnist_core: the plain-Python core of the MNIST playground.

Data (`mnist_core.data`), models, training, preprocessing of drawings, prediction, evaluation
and storage of trained models live here, importable and testable without Streamlit. The app
and the command line (`python -m mnist_core --help`) are thin layers on top.

Importing this package imports nothing else: import the module you need.
"""

# The project's version, in this one place (pyproject.toml reads it). The training engine
# compares it with the version each Dask worker imports.
__version__ = "0.1.0"
