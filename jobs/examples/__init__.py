"""Example job specs (`*.json`) and the data their inputs name (`data.py`)."""
