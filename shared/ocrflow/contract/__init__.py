"""What ocrflow promises the outside world: the trigger events it reads (:mod:`.events`), the
messages it publishes, CloudEvents with a JSON Schema each (:mod:`.messages`), and their
reading downstream (:mod:`.consumer`, public as :mod:`ocrflow.consumer`)."""
