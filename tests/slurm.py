"""A real single-node SLURM cluster for the tests: munged, slurmctld and slurmd in a temporary folder.

Needs the Debian packages ``slurmctld slurmd slurm-client munge`` (``.ci/run`` installs them) and
root (the daemons run as ``SlurmUser=root``). Without them :func:`start` raises ``Unavailable``
with the reason, and the tests skip saying so. Every wait is bounded and every process started
here is stopped by the PID in its PID file, also when a test fails.

Each cluster listens on ports of its own, free when it starts (``SlurmctldPort``, ``SlurmdPort``),
not on SLURM's fixed defaults 6817/6818: with those, a cluster started while another one ran on
the machine (another checkout's test run, the other Hydra stack's, a developer's) found 6817 taken,
and its four tests skipped or passed depending on what else was running.

Without slurmdbd, ``sacct`` fails, and submitit then treats a job that died without a result
(``scancel``, a time limit) as still running: the sweep would wait forever. ``bin/sacct`` here
answers submitit's ``sacct -o JobID,State,NodeList --parsable2 -j ID...`` from ``scontrol -o show
job``, so a cancelled job ends the sweep with submitit's ``UncompletedJobError``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bounded_lr_resolver.sweep import _alive  # whether a PID is a live process

DAEMONS = ("munged", "slurmctld", "slurmd", "sinfo", "scontrol", "scancel", "squeue")

SACCT = """#!/usr/bin/env python3
# sacct stand-in for a cluster without slurmdbd: what submitit asks, from scontrol (tests only)
import subprocess, sys
args = sys.argv[1:]
ids = []
for index, arg in enumerate(args):
    if arg == "-j" and index + 1 < len(args):
        ids += args[index + 1].split(",")
print("JobID|State|NodeList")
for job in ids:
    command = ["scontrol", "-o", "show", "job", job.split("_")[0]]
    shown = subprocess.run(command, capture_output=True, text=True)
    for line in shown.stdout.splitlines():
        fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
        name = fields.get("JobId", "")
        if fields.get("ArrayJobId") and fields.get("ArrayTaskId"):
            name = fields["ArrayJobId"] + "_" + fields["ArrayTaskId"]
        print(f"{name}|{fields.get('JobState', 'UNKNOWN')}|{fields.get('NodeList', '')}")
"""


class Unavailable(Exception):
    """This machine cannot run the cluster (the reason is the message)."""


@dataclass
class Cluster:
    """A started cluster: the environment its client commands need, and where everything lives."""

    root: Path
    env: dict[str, str]

    def run(self, *command: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def stop(self) -> None:
        """scancel what is left, then SIGTERM every daemon by its PID file; SIGKILL after 10 s."""
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            self.run("scancel", "--user=root", timeout=10)
        pids = [_pid(self.root / f"{name}.pid") for name in ("slurmd", "slurmctld")]
        _terminate([pid for pid in pids if pid])
        _terminate([pid for pid in [_pid(self.root / "munge" / "munged.pid")] if pid])


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _terminate(pids: list[int], bound: float = 10.0) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + bound
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _check_machine() -> None:
    missing = [
        name for name in DAEMONS if shutil.which(name) is None and not Path("/usr/sbin", name).exists()
    ]
    if missing:
        raise Unavailable(
            f"SLURM is not installed ({', '.join(missing)} missing): apt-get install -y "
            "--no-install-recommends slurmctld slurmd slurm-client munge (as .ci/run does)"
        )
    if os.geteuid() != 0:
        raise Unavailable("the single-node SLURM cluster runs its daemons as root (SlurmUser=root)")


def _free_ports(count: int) -> list[int]:
    """``count`` TCP ports free on every interface now, as the kernel picks them for a bind to 0."""
    with contextlib.ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind(("", 0))
        return [probe.getsockname()[1] for probe in probes]


def _wait(what: str, ready: object, bound: float) -> None:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if ready():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise Unavailable(f"{what} did not start within {bound:.0f} s")


def start(root: Path) -> Cluster:
    """Start munged, slurmctld and slurmd under ``root``; wait (bounded) until the node is idle."""
    _check_machine()
    sbin = "/usr/sbin"
    env = {**os.environ, "PATH": f"{root / 'bin'}:{os.environ.get('PATH', '')}:{sbin}"}
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "sacct").write_text(SACCT)
    (root / "bin" / "sacct").chmod(0o755)
    munge = root / "munge"
    munge.mkdir(mode=0o755)
    key = munge / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    sock = munge / "munge.socket"
    subprocess.run(
        [
            shutil.which("munged") or f"{sbin}/munged",
            "--force",
            f"--socket={sock}",
            f"--key-file={key}",
            f"--pid-file={munge / 'munged.pid'}",
            f"--log-file={munge / 'munged.log'}",
            f"--seed-file={munge / 'munged.seed'}",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    cluster = Cluster(root, env)
    try:
        _wait("munged", sock.exists, 10)
        node = subprocess.run(
            [f"{sbin}/slurmd", "-C"], capture_output=True, text=True, check=True, timeout=30
        ).stdout.splitlines()[0]
        fields = dict(item.split("=", 1) for item in node.split())
        memory = max(1024, int(fields["RealMemory"]) - 1024)
        host = socket.gethostname().split(".")[0]
        controller_port, node_port = _free_ports(2)
        for name in ("state", "spool"):
            (root / name).mkdir()
        conf = root / "slurm.conf"
        conf.write_text(
            "\n".join(
                [
                    "ClusterName=tests",
                    f"SlurmctldHost={host}(127.0.0.1)",
                    f"SlurmctldPort={controller_port}",
                    f"SlurmdPort={node_port}",
                    "SlurmUser=root",
                    "AuthType=auth/munge",
                    "CredType=cred/munge",
                    f"AuthInfo=socket={sock}",
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "JobAcctGatherType=jobacct_gather/none",
                    "AccountingStorageType=accounting_storage/none",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_Core_Memory",
                    "DefMemPerCPU=1024",
                    "MpiDefault=none",
                    "MailProg=/bin/true",
                    "ReturnToService=2",
                    "MinJobAge=3600",
                    f"StateSaveLocation={root / 'state'}",
                    f"SlurmdSpoolDir={root / 'spool'}",
                    f"SlurmctldPidFile={root / 'slurmctld.pid'}",
                    f"SlurmdPidFile={root / 'slurmd.pid'}",
                    f"SlurmctldLogFile={root / 'slurmctld.log'}",
                    f"SlurmdLogFile={root / 'slurmd.log'}",
                    f"NodeName={host} NodeAddr=127.0.0.1 CPUs={fields['CPUs']} "
                    f"CoresPerSocket={fields.get('CoresPerSocket', fields['CPUs'])} "
                    f"ThreadsPerCore={fields.get('ThreadsPerCore', 1)} RealMemory={memory} State=UNKNOWN",
                    f"PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP",
                    "",
                ]
            )
        )
        env["SLURM_CONF"] = str(conf)
        for daemon in ("slurmctld", "slurmd"):
            subprocess.run(
                [f"{sbin}/{daemon}", "-f", str(conf)], env=env, check=True, capture_output=True, timeout=30
            )

        def idle() -> bool:
            shown = cluster.run("sinfo", "-h", "-o", "%T", timeout=10)
            return shown.returncode == 0 and shown.stdout.strip() == "idle"

        _wait("the SLURM node", idle, 30)
    except BaseException:
        cluster.stop()
        raise
    return cluster
