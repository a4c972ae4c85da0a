"""The base layer: errors, file and image I/O, multi-process helpers, the XLA CPU setting, plug-ins, the version.

Nothing here imports another jaxsr layer."""
