"""Workflows: DAGs of jobs submitted as one (spec: the checks; rules: the state machine and
its decisions, pure; shell: the store, the engine and the leader)."""
