"""The job engine: a pure core of rules (core, offers), an I/O shell (shell.Engine), and
admission, results and views beside them."""

from framework.engine.config import EngineConfig
from framework.engine.core import Halted
from framework.engine.shell import Engine

__all__ = ["Engine", "EngineConfig", "Halted"]
