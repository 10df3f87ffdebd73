"""Huawei Cloud OCR as ocrflow knows it: the client and its one retry policy
(:mod:`.client`, :mod:`.retry`), which API exists where and what it takes (:mod:`.catalogue`),
which API an object goes to (:mod:`.routing`), URL-mode input (:mod:`.urlmode`), the invoice
guards (:mod:`.invoices`), and the reading of its answers: text blocks (:mod:`.words`), text
(:mod:`.text`), confidences (:mod:`.confidence`) and what a call cost (:mod:`.usage`)."""
