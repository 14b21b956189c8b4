"""RadLens viewer: Qt UI on top of a Qt-free DICOM core (viewer.core)."""

__version__ = "0.4.0"

RESEARCH_USE_NOTICE = (
    "RadLens AI output is for research use only. It is not a medical device and "
    "must not be used for diagnosis or treatment decisions."
)
