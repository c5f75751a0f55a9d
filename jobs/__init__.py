"""femto's domain: job specs, the operation registry and the dataset model.

Pure code: it imports only numpy, pydantic and the standard library, so the
scheduler, the executor and the tests share it without any I/O.
"""
