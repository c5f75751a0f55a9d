"""The job engine: a pure core of rules (core, offers), an I/O shell (shell.Engine), and
admission, results and views beside them."""

from femto.engine.config import EngineConfig
from femto.engine.core import Halted
from femto.engine.shell import Engine

__all__ = ["Engine", "EngineConfig", "Halted"]
