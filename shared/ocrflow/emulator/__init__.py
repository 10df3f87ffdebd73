"""The local OCR emulator (``ocrflow emulator``): a stand-in for Huawei Cloud OCR that runs
offline. Importing this package is cheap; the recognition engine loads on first use."""
