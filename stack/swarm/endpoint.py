"""Which endpoint mode the services get: `vip` (a virtual IP per service, balanced by the kernel's
IPVS) where the kernel has IPVS, else `dnsrr` (the service name resolves to every task's address,
and callers spread over them). FAILWHALE_SWARM_ENDPOINT_MODE=auto|vip|dnsrr decides otherwise."""

import os
import shutil
import subprocess
from pathlib import Path
from typing import Literal

EndpointMode = Literal["vip", "dnsrr"]
VARIABLE = "FAILWHALE_SWARM_ENDPOINT_MODE"


def kernel_has_ipvs(proc: Path = Path("/proc"), sys_module: Path = Path("/sys/module")) -> bool:
    """IPVS is loaded (its /proc table or its module is there) or loadable (modprobe says so)."""
    if (proc / "net" / "ip_vs").exists() or (sys_module / "ip_vs").exists():
        return True
    modprobe = shutil.which("modprobe") or next(
        (p for p in ("/sbin/modprobe", "/usr/sbin/modprobe") if Path(p).exists()), None
    )
    if modprobe is None:
        return False
    dry_run = subprocess.run([modprobe, "-n", "ip_vs"], capture_output=True, check=False)
    return dry_run.returncode == 0


def choose(setting: str | None = None) -> tuple[EndpointMode, str]:
    """The mode and why it was chosen, in words for the output."""
    setting = (setting if setting is not None else os.environ.get(VARIABLE, "auto")) or "auto"
    if setting == "vip":
        return "vip", f"{VARIABLE}=vip"
    if setting == "dnsrr":
        return "dnsrr", f"{VARIABLE}=dnsrr"
    if setting != "auto":
        raise ValueError(f"{VARIABLE} must be auto, vip or dnsrr, not {setting!r}")
    if kernel_has_ipvs():
        return "vip", "the kernel has IPVS: service virtual IPs"
    return (
        "dnsrr",
        "the kernel has no IPVS (no /proc/net/ip_vs, modprobe ip_vs fails): DNS round robin",
    )
