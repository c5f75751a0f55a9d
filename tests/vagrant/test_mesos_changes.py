"""provision/mesos.sh's four source changes (real-mesos.md) apply once, are left alone
when already there, and fail loudly when the text they change is gone. The files here
hold only lines shaped like the ones each change targets in apache/mesos."""

from __future__ import annotations

from pathlib import Path

from tests.vagrant.provisioning import run_provision

BEFORE = {
    "configure.ac": "AC_LANG([C++])\nAX_CXX_COMPILE_STDCXX([11], [noext], [mandatory])\n",
    "3rdparty/libprocess/configure.ac": "AX_CXX_COMPILE_STDCXX([11], [noext], [mandatory])\n",
    "3rdparty/stout/configure.ac": "AX_CXX_COMPILE_STDCXX([11], [noext], [mandatory])\n",
    "3rdparty/Makefile.am": "else\nALL_LOCAL += $(ZOOKEEPER)-stamp\nendif\n",
    "include/mesos/csi/v0.hpp": '  CHECK(status.ok()) << "failed: " << status.error_message();\n',
    "include/mesos/csi/v1.hpp": '  CHECK(status.ok()) << "failed: " << status.error_message();\n',
    "src/linux/cgroups2.cpp": (
        "      if (entry.dir == MOUNT_POINT) {\n        return true;\n      }\n"
        '      return Error("Found cgroups2 mount at an unexpected location"\n'
        "                   \" '\" + entry.dir + \"'\");\n"),
}


def checkout(tmp_path: Path) -> Path:
    src = tmp_path / "mesos"
    for name, text in BEFORE.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text)
    return src


def change(tmp_path: Path, src: Path) -> tuple[int, str]:
    done = run_provision("mesos.sh", tmp_path / "root", MESOS_CHANGES_ONLY="1",
                         MESOS_SRC=str(src))
    return done.returncode, done.stdout + done.stderr


def test_the_four_changes_apply_once(tmp_path: Path) -> None:
    src = checkout(tmp_path)
    code, out = change(tmp_path, src)
    assert code == 0, out
    text = {name: (src / name).read_text() for name in BEFORE}
    for name in ("configure.ac", "3rdparty/libprocess/configure.ac",
                 "3rdparty/stout/configure.ac"):
        assert "AX_CXX_COMPILE_STDCXX([14], [noext], [mandatory])" in text[name]
        assert "[11]" not in text[name]
    assert "$(ZOOKEEPER)-stamp" not in text["3rdparty/Makefile.am"]
    assert text["3rdparty/Makefile.am"].startswith("else\n") and "endif" in text[
        "3rdparty/Makefile.am"]
    for name in ("include/mesos/csi/v0.hpp", "include/mesos/csi/v1.hpp"):
        assert "status.ToString()" in text[name] and "error_message" not in text[name]
    assert "return Error" not in text["src/linux/cgroups2.cpp"]
    assert "return true;" in text["src/linux/cgroups2.cpp"]
    assert "continue;" in text["src/linux/cgroups2.cpp"]
    # Again: nothing left to change, and nothing changes.
    code, out = change(tmp_path, src)
    assert code == 0, out
    assert {name: (src / name).read_text() for name in BEFORE} == text


def test_a_change_that_no_longer_applies_fails_naming_it(tmp_path: Path) -> None:
    src = checkout(tmp_path)
    (src / "include/mesos/csi/v1.hpp").write_text("  CHECK(status.ok()) << status.message();\n")
    code, out = change(tmp_path, src)
    assert code != 0
    assert "source change 'protobuf 3.21 Status' no longer applies to include/mesos/csi/v1.hpp" \
        in out
