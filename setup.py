from setuptools import setup

# All metadata lives in pyproject.toml; this shim only keeps legacy tooling working.
setup()
