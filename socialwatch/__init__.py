"""socialwatch: network-side student-safety monitoring of social-media activity."""

__version__ = "0.1.0"
