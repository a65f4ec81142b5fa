"""alloyscreen: high-throughput screening of alloys and high-entropy alloys."""

__version__ = "0.1.0"
