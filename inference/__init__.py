"""RadLens inference: model cards, safe loading, preprocessing, CNNs, Grad-CAM, training.

Qt-free; torch is imported by the modules that need it, never by this package's __init__.
"""
