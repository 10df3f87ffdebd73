"""A tool, never in the function bundle: documents people keep, made from result messages —
searchable PDF, Markdown, hOCR and text (:mod:`.render`), the HTML run report
(:mod:`.report`), and their commands, ``ocrflow render`` and ``ocrflow run --report``
(:mod:`.cli`). Needs the ``render`` extra."""
