"""`femto trigger add|show|pause|resume|rm` and `femto triggers`: storage-event triggers
over the HTTP API (/v1/triggers)."""

from __future__ import annotations

import argparse
from typing import Any

from femto.cli.commands import call_and_show, read_spec
from femto.cli.render import table, when


def watched(trigger: dict[str, Any]) -> str:
    watch = trigger["watch"]
    if "datasets" in watch:
        return f"datasets {watch['datasets']}"
    return f"{watch['directory']}/{watch['pattern']}"


def triggers_table(triggers: list[dict[str, Any]]) -> list[str]:
    return table(["NAME", "STATE", "FIRED", "ERRORS", "LAST", "WATCHES"], [
        [t["name"], t["state"], t["fired"], len(t["errors"]),
         when((t["last_event"] or {}).get("at")), watched(t)] for t in triggers])


def trigger_lines(trigger: dict[str, Any]) -> list[str]:
    last = trigger["last_event"]
    lines = [f"trigger {trigger['name']}: {trigger['state']}, fired {trigger['fired']} times",
             f"watches: {watched(trigger)}"]
    if last is not None:
        made = f"job {last['job']}" if "job" in last else f"workflow {last['workflow']}"
        lines.append(f"last: {when(last['at'])} {last['item']} -> {made}")
    lines += [f"error: {when(e['at'])} {e['item'] or ''} {e['error']}".replace("  ", " ")
              for e in trigger["errors"]]
    return lines


def trigger_add(args: argparse.Namespace) -> int:
    return call_and_show(args, "POST", "/v1/triggers", trigger_lines,
                 json=read_spec(args.file, "trigger"))


def trigger_show(args: argparse.Namespace) -> int:
    return call_and_show(args, "GET", f"/v1/triggers/{args.name}", trigger_lines)


def trigger_pause(args: argparse.Namespace) -> int:
    return call_and_show(args, "POST", f"/v1/triggers/{args.name}/pause", trigger_lines)


def trigger_resume(args: argparse.Namespace) -> int:
    return call_and_show(args, "POST", f"/v1/triggers/{args.name}/resume", trigger_lines)


def trigger_rm(args: argparse.Namespace) -> int:
    return call_and_show(args, "DELETE", f"/v1/triggers/{args.name}",
                 lambda _: [f"deleted trigger {args.name} (its jobs and datasets stay)"])


def triggers(args: argparse.Namespace) -> int:
    return call_and_show(args, "GET", "/v1/triggers", triggers_table)
