"""What the benchmark ran on: CPU, cores, memory, Python, SQLite and library versions."""

from __future__ import annotations

import os
import platform
import sqlite3
from importlib import metadata
from pathlib import Path

__all__ = ["cpu_model", "library_versions", "load_average", "machine_facts"]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text("utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text("utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except (OSError, ValueError):
        pass
    return "unknown"


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def library_versions() -> str:
    names = ("SQLAlchemy", "psycopg", "cedarpy", "cryptography")
    out = []
    for name in names:
        try:
            out.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(f"{name} (not installed)")
    return ", ".join(out)


def machine_facts() -> dict[str, str]:
    return {
        "CPU": cpu_model(),
        "Cores (logical)": str(os.cpu_count() or "unknown"),
        "RAM": _ram_gib(),
        "OS": platform.platform(),
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "SQLite": f"{sqlite3.sqlite_version} (WAL, synchronous=NORMAL, as Steward configures it)",
        "Libraries": library_versions(),
    }
