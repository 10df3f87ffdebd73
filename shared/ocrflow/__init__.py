"""ocrflow: bucket uploads → Huawei Cloud OCR → results on a message queue.

Importing the package is cheap on purpose: adapters and heavy libraries are imported only
by the code path that needs them.
"""

__version__ = "0.1.0"
