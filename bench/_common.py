"""Shared helpers for the benchmark scripts: timing, memory, the machine's description and the summary line."""
import os
import platform
import resource
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def peak_rss_mb(who=resource.RUSAGE_SELF) -> float:
    "Peak resident memory of this process (or of its largest waited-for child), in MB."
    kb = resource.getrusage(who).ru_maxrss
    return kb / 1024 if sys.platform != 'darwin' else kb / 2**20   # macOS reports bytes


def median(values) -> float: return statistics.median(values)


def cpu_name() -> str:
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'): return line.split(':', 1)[1].strip()
    except OSError: pass
    return platform.processor() or platform.machine()


def memory_gb() -> float:
    try: return os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30
    except (ValueError, OSError, AttributeError): return float('nan')


def gpu_name() -> str:
    "The GPU's name from nvidia-smi, or '' on a machine without one (no torch import: it is slow)."
    try: out = subprocess.run(['nvidia-smi', '--query-gpu=name', '--format=csv,noheader'], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired): return ''
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else ''


def machine() -> str:
    "One line naming the machine a result was measured on."
    gpu = gpu_name()
    return (f"{os.cpu_count()} CPU cores ({cpu_name()}), {memory_gb():.0f} GB RAM, {gpu or 'no GPU'}, "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}")


def summary(name:str, value):
    "The last line every benchmark prints: `name: value`, read by bench/results.py and the CI test."
    print(f"{name}: {value}", flush=True)


def table(rows:list[dict], columns:list[str]) -> str:
    "A Markdown table of `rows` (dicts) with the given columns."
    lines = ['| ' + ' | '.join(columns) + ' |', '|' + '---|' * len(columns)]
    lines += ['| ' + ' | '.join(str(row.get(c, '')) for c in columns) + ' |' for row in rows]
    return '\n'.join(lines)
