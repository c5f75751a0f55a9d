"""The name rule shared by job names and dataset names."""

from typing import Annotated

from pydantic import StringConstraints

NAME_PATTERN = r"^[A-Za-z0-9._-]{1,128}$"

Name = Annotated[str, StringConstraints(strict=True, pattern=NAME_PATTERN)]
