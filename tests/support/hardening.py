"""What docker-compose.yml promises about each container, checked both in
the configuration Docker applied (`docker inspect`) and in effect in the
running processes (their /proc status, seen from the host, and a write
tried inside the container)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.compose import Stack, run


def assert_hardened(stack: Stack, service: str) -> None:
    container = stack.container_id(service)
    info = stack.inspect(container)
    host = info["HostConfig"]
    assert info["State"]["Running"], service
    assert info["Config"]["User"] not in ("", "root", "0", "0:0"), service
    assert host["Privileged"] is False, service
    assert host["ReadonlyRootfs"] is True, service
    assert host["CapDrop"] == ["ALL"], service
    assert not host["CapAdd"], service
    assert any(opt.startswith("no-new-privileges") for opt in host["SecurityOpt"] or []), service
    assert host["Memory"] > 0, service
    assert (host["PidsLimit"] or 0) > 0, service

    # In effect, for the main process and every process under it (gunicorn's workers).
    for pid in _tree(info["State"]["Pid"]):
        status = _status(pid)
        uids = status["Uid"].split()
        assert all(uid != "0" for uid in uids), f"{service}: pid {pid} runs as root: {uids}"
        assert status["NoNewPrivs"] == "1", f"{service}: pid {pid} may gain privileges"
        for caps in ("CapPrm", "CapEff", "CapBnd", "CapAmb"):
            assert int(status[caps], 16) == 0, f"{service}: pid {pid} has {caps} {status[caps]}"

    # The root filesystem refuses writes; /tmp (a tmpfs) takes them.
    write = "import sys; open(sys.argv[1], 'w').write('x')"
    denied = run(["docker", "exec", container, "python", "-c", write, "/app/written"], check=False)
    assert denied.returncode != 0, f"{service}: wrote to its root filesystem"
    assert "Read-only file system" in denied.stderr, denied.stderr[-500:]
    run(["docker", "exec", container, "python", "-c", write, "/tmp/written"])


def _status(pid: int) -> dict[str, str]:
    text = Path(f"/proc/{pid}/status").read_text()
    return dict(re.findall(r"^(\w+):\s*(.*)$", text, re.M))


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants, from the kernel's children lists."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").iterdir():
            children = (task / "children").read_text().split()
            todo.extend(int(child) for child in children)
    return found
