"""A stand-in for the ``nextflow`` launcher, for driver tests on hosts without Nextflow.

Installed by the tests as an executable named ``nextflow`` on PATH. It understands what the driver passes:

* ``-version``: prints a banner like Nextflow's, with ``$FAKE_NEXTFLOW_VERSION`` (default 24.10.4).
* ``[-log f] [-c config] run <main> -params-file p -work-dir w -with-trace t [-with-weblog url] [-profile x]``:
  records its argv, working directory, pid, environment, params file, config and network interfaces in
  ``$FAKE_NEXTFLOW_RECORD``;
  then replays the weblog messages of the scenario (``$FAKE_NEXTFLOW_SCENARIO``, JSON) to the weblog URL,
  appends a trace-file row (the config's ``trace.fields``, raw values) for each finished task, writes the
  scenario's ``publish`` files under the main script's first ``publishDir``, and exits with its ``exit``.

Scenario keys: ``weblog`` (path of a JSON-lines recording), ``exit`` (status, default 0), ``publish``
(relative path → text, ``{reads}`` replaced by ``params.reads``), ``console`` (lines to print),
``hang_after`` (stop replaying after that many messages and wait for a signal).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
import urllib.request
from pathlib import Path


def main(argv: list[str]) -> int:
    if "-version" in argv or "-v" in argv:
        version = os.environ.get("FAKE_NEXTFLOW_VERSION", "24.10.4")
        print(f"\n      N E X T F L O W\n      version {version} build 5934\n      created 20-01-2025 13:54 UTC\n")
        return 0
    options = _options(argv)
    scenario = json.loads(Path(os.environ["FAKE_NEXTFLOW_SCENARIO"]).read_text())
    config = Path(options["-c"]).read_text() if "-c" in options else ""
    params = json.loads(Path(options["-params-file"]).read_text())
    record = os.environ.get("FAKE_NEXTFLOW_RECORD")
    if record:
        env = {k: v for k, v in os.environ.items() if k.startswith(("NXF_", "AWS_"))}
        body = {
            "argv": argv,
            "cwd": os.getcwd(),
            "pid": os.getpid(),
            "env": env,
            "params": params,
            "config": config,
            "interfaces": _interfaces(),
        }
        Path(record).write_text(json.dumps(body, indent=2))
    for line in scenario.get("console", []):
        print(line, flush=True)
    main_script = Path(options["run"])
    publish_dir = _publish_dir(main_script.read_text())
    if publish_dir.startswith("/mnt/workflow"):
        print(f"ERROR ~ publishDir {publish_dir} was not mapped into the run directory", flush=True)
        return 3
    fields = _trace_fields(config)
    trace_path = Path(options["-with-trace"])
    trace_path.write_text("\t".join(fields) + "\n")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    messages = [json.loads(line) for line in Path(scenario["weblog"]).read_text().splitlines() if line.strip()]
    hang_after = scenario.get("hang_after")
    for index, message in enumerate(messages):
        if hang_after is not None and index >= hang_after:
            while True:
                time.sleep(0.1)
        if "-with-weblog" in options:
            _post(options["-with-weblog"], message)
        trace = message.get("trace")
        if message["event"] == "process_completed" and trace:
            with open(trace_path, "a") as handle:
                handle.write("\t".join(_raw(trace.get(field)) for field in fields) + "\n")
    for name, text in scenario.get("publish", {}).items():
        target = Path(publish_dir) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text.replace("{reads}", str(params.get("reads"))))
    return int(scenario.get("exit", 0))


def _options(argv: list[str]) -> dict[str, str]:
    options: dict[str, str] = {}
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg.startswith("-") and index + 1 < len(argv):
            options[arg] = argv[index + 1]
            index += 2
        elif arg == "run" and index + 1 < len(argv):
            options["run"] = argv[index + 1]
            index += 2
        else:
            index += 1
    return options


def _interfaces() -> list[str]:
    lines = Path("/proc/self/net/dev").read_text().splitlines()
    return sorted(line.split(":", 1)[0].strip() for line in lines if ":" in line)


def _publish_dir(script: str) -> str:
    match = re.search(r"publishDir\s+['\"]([^'\"]+)['\"]", script)
    return match.group(1) if match else "."


def _trace_fields(config: str) -> list[str]:
    match = re.search(r"fields\s*=\s*'([^']*)'", config)
    return match.group(1).split(",") if match else ["task_id", "name", "status", "exit"]


def _raw(value: object) -> str:
    return "-" if value is None else str(value)


def _post(url: str, message: dict[str, object]) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(message).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
