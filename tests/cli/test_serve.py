"""`femto serve`: what keeps it from starting, its token, and its flags' variables."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

from femto.cli.errors import UserError
from femto.cli.parser import GLOBAL, SERVE, build_parser
from femto.cli.settings import resolve
from femto.cli.tokens import api_token
from femto.service import Service, check_exposure
from tests.cli.helpers import FEMTO, a_mistake, client_env, femto
from tests.services import free_port


def serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return femto(None, "serve", "--state-dir", str(tmp_path), *args, check=False, timeout=60,
                 env=client_env(**env))


def test_serve_names_what_keeps_it_from_starting(served: Service, tmp_path: Path) -> None:
    a_mistake(serve(tmp_path, "--agents", "0"), "--agents: must be at least 1")
    a_mistake(serve(tmp_path, "--limit", "colour=3"), "--limit 'colour=3'")
    a_mistake(serve(tmp_path, "--listen", "nowhere"), "--listen 'nowhere' must be HOST:PORT")
    taken = served.url.removeprefix("http://")
    a_mistake(serve(tmp_path, "--listen", taken), f"cannot listen on {taken}")
    a_mistake(serve(tmp_path, FEMTO_LISTEN="nowhere"), "--listen 'nowhere'")


def test_a_bad_variable_is_named(tmp_path: Path) -> None:
    a_mistake(serve(tmp_path, FEMTO_AGENTS="0"), "$FEMTO_AGENTS='0': must be at least 1")
    a_mistake(serve(tmp_path, FEMTO_INSECURE="maybe"), "$FEMTO_INSECURE='maybe'")
    a_mistake(serve(tmp_path, FEMTO_RETRY_BACKOFF="soon"), "$FEMTO_RETRY_BACKOFF='soon'")


def test_serve_refuses_to_listen_beyond_loopback_without_a_token(tmp_path: Path) -> None:
    a_mistake(serve(tmp_path, "--listen", "0.0.0.0:0"), "no API token", "--insecure")


def test_exposure_rules() -> None:
    # The allowed cases are checked without binding beyond loopback (tests never do).
    check_exposure("127.0.0.1:8080", None, insecure=False)
    check_exposure("[::1]:8080", None, insecure=False)
    check_exposure("localhost:8080", None, insecure=False)
    check_exposure("0.0.0.0:8080", "t0ken", insecure=False)
    check_exposure("0.0.0.0:8080", None, insecure=True)
    for exposed in ("0.0.0.0:8080", "10.1.2.3:8080", "myhost:8080", "[::]:8080"):
        with pytest.raises(ValueError, match="no API token"):
            check_exposure(exposed, None, insecure=False)


def test_serve_is_configured_by_its_variables(tmp_path: Path) -> None:
    """$FEMTO_LISTEN, $FEMTO_API_TOKEN_FILE, $FEMTO_STATE_DIR and $FEMTO_LIMIT (a repeatable
    flag: values separated by spaces), and --json for the address."""
    (tmp_path / "token").write_text("from-a-file\n")
    port = free_port()
    env = client_env(FEMTO_LISTEN=f"127.0.0.1:{port}", FEMTO_STATE_DIR=str(tmp_path / "st"),
                     FEMTO_API_TOKEN_FILE=str(tmp_path / "token"),
                     FEMTO_LIMIT="bins=5 partitions=3")
    proc = subprocess.Popen([FEMTO, "--json", "serve"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        assert proc.stdout is not None
        url = json.loads(proc.stdout.readline())["url"]
        assert url == f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/v1/jobs", timeout=10).status_code == 401
        auth = {"Authorization": "Bearer from-a-file"}
        refused = httpx.post(f"{url}/v1/jobs", headers=auth, timeout=10, json={
            "name": "h", "operation": "histogram", "inputs": ["d"],
            "params": {"bins": 10, "range": [0, 1]}})
        assert refused.status_code == 422 and "over the limit of 5" in refused.text
        assert (tmp_path / "st" / "femto.db").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_the_command_line_wins_over_a_variable() -> None:
    environ = {"FEMTO_AGENTS": "3", "FEMTO_DATA_ROOT": "/a /b", "FEMTO_INSECURE": "yes",
               "FEMTO_LISTEN": "127.0.0.1:1"}
    args = build_parser().parse_args(["serve", "--listen", "127.0.0.1:2"])
    resolve(args, SERVE, environ)
    assert (args.agents, args.data_root, args.insecure, args.listen) == (
        3, ["/a", "/b"], True, "127.0.0.1:2")
    args = build_parser().parse_args(["serve", "--data-root", "/c"])
    resolve(args, SERVE, {})
    assert (args.agents, args.data_root, args.insecure, args.retry_backoff) == (
        2, ["/c"], False, 1.0)


def test_serve_takes_the_token_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    args = build_parser().parse_args(["serve"])
    resolve(args, GLOBAL, {})
    monkeypatch.delenv("FEMTO_API_TOKEN", raising=False)
    assert api_token(args) is None
    monkeypatch.setenv("FEMTO_API_TOKEN", "from-env")
    assert api_token(args) == "from-env"
    (tmp_path / "empty").write_text("\n")
    args.api_token_file = str(tmp_path / "empty")
    with pytest.raises(UserError, match="is empty"):
        api_token(args)
    args.api_token_file = str(tmp_path / "missing")
    with pytest.raises(UserError, match="cannot read --api-token-file"):
        api_token(args)
