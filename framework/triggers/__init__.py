"""Storage-event triggers: a file landing in a watched directory, or a dataset created
under a watched name, submits a job or workflow on it, once."""
