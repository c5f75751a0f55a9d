"""The registry is the `femto.operations` entry points, femto's own among them; a plugin
that cannot be used is named, with its package, and never breaks the others."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest

from femto.jobs.operations import UnknownOperation, get_operation, operation_names, package_of
from femto.jobs.operations.registry import GROUP, registry
from tests.plugins.distributions import TOTAL, on_path, write_distribution

BUILT_IN = {"count", "sum", "mean", "min", "max", "histogram", "noop", "real2bin", "clip",
            "add", "sliding_mean", "command"}


def test_femtos_own_operations_are_entry_points_of_the_femto_distribution() -> None:
    femtos = {e.name for e in entry_points(group=GROUP) if e.dist and e.dist.name == "femto"}
    assert femtos == BUILT_IN
    assert set(operation_names()) >= BUILT_IN
    assert all(package_of(name).name == "femto" for name in BUILT_IN)  # type: ignore[union-attr]


def test_an_installed_package_adds_its_operation(tmp_path: Path) -> None:
    write_distribution(tmp_path, "femto-total", "1.2.0", "femto_total_a",
                       TOTAL.format(name="total"), {"total": "Total"})
    with on_path(tmp_path):
        assert get_operation("total").kind == "query"
        assert str(package_of("total")) == "femto-total 1.2.0"
    with pytest.raises(UnknownOperation, match="unknown operation 'total'"):
        get_operation("total")


def test_two_packages_with_one_name_withdraw_it_naming_both(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_distribution(tmp_path, "femto-one", "1.0", "femto_dup_one",
                       TOTAL.format(name="total"), {"total": "Total"})
    write_distribution(tmp_path, "femto-two", "2.0", "femto_dup_two",
                       TOTAL.format(name="total"), {"total": "Total"})
    with on_path(tmp_path):
        with pytest.raises(UnknownOperation) as caught:
            get_operation("total")
        message = str(caught.value)
        assert "femto-one 1.0 (femto_dup_one:Total)" in message
        assert "femto-two 2.0 (femto_dup_two:Total)" in message
        assert message in caplog.text  # and logged when the environment was scanned
        assert set(operation_names()) >= BUILT_IN  # the others stay


def test_a_plugin_that_shadows_a_built_in_withdraws_the_name(tmp_path: Path) -> None:
    write_distribution(tmp_path, "femto-shadow", "0.1", "femto_shadow",
                       TOTAL.format(name="sum"), {"sum": "Total"})
    with on_path(tmp_path), \
            pytest.raises(UnknownOperation, match=r"femto 0\.1\.0 .* and femto-shadow 0\.1"):
        get_operation("sum")


@pytest.mark.parametrize(("module", "source", "expected"), [
    ("femto_broken_import", "raise ImportError('needs libfoo')", "cannot import .*needs libfoo"),
    ("femto_broken_kind", "Total = 42", "Total is not a femto operation"),
    ("femto_broken_params", TOTAL.format(name="total").replace("Params = NoParams",
                                                                "Params = dict"),
     "Total.Params is not a pydantic model"),
    ("femto_broken_name", TOTAL.format(name="other"),
     "Total is named 'other', but its entry point registers it as 'total'"),
])
def test_a_plugin_that_cannot_be_used_is_named_with_its_package(
    tmp_path: Path, module: str, source: str, expected: str
) -> None:
    write_distribution(tmp_path, "femto-broken", "0.9", module, source, {"total": "Total"})
    with on_path(tmp_path):
        with pytest.raises(UnknownOperation, match=f"of femto-broken 0.9 cannot be used: "
                                                   f".*{expected}"):
            get_operation("total")
        assert registry().problems.keys() == {"total"}
        assert set(operation_names()) >= BUILT_IN
