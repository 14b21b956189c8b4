"""RadLens inference: model cards, safe loading, preprocessing, CNNs, Grad-CAM, training.

Qt-free. torch is imported by the modules that need it (through `inference.torch_setup`), never
here; but the OpenMP wait policy is set here, before anything can import torch (see there).
"""

from inference.torch_setup import configure_environment

configure_environment()
