"""sysmond: a light, exact system resource monitor for one Linux server."""

__version__ = "0.1.0"
