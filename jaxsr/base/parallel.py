"""Data parallelism over every device of every host: one ``data`` mesh axis, ``NamedSharding`` under jit.

* Params and optimizer state are replicated (``P()``); batches are split on their first dimension
  (``P("data")``). The train step is one jit over the global arrays; XLA inserts the gradient all-reduce.
* Several processes (hosts) are joined with ``jax.distributed.initialize`` when the environment says so:
  ``JAX_COORDINATOR_ADDRESS`` + ``JAX_NUM_PROCESSES`` + ``JAX_PROCESS_ID``, or a cluster JAX detects
  itself (TPU pod slices, SLURM, Open MPI) when ``JAXSR_DISTRIBUTED=1``. Joining is bounded by a timeout,
  so an unreachable coordinator fails with a clear message instead of hanging.
* Each process feeds only its own rows of a global batch; ``global_batch`` assembles them with
  ``jax.make_array_from_process_local_data``.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxsr.base.errors import JaxsrError

__all__ = ["initialize_distributed", "make_mesh", "describe", "replicated", "batch_sharded", "check_batch_size",
           "replicate", "global_batch", "local_copy", "allgather"]


def initialize_distributed(timeout_s: int | None = None) -> bool:
    """Join the other processes when the environment asks for it; returns True if it did.

    Must run before anything touches a JAX device. ``JAXSR_INIT_TIMEOUT`` (seconds, default 120) bounds
    the wait for the coordinator.
    """
    address = os.environ.get("JAX_COORDINATOR_ADDRESS")
    forced = os.environ.get("JAXSR_DISTRIBUTED", "") == "1"
    if not address and not forced:
        return False
    if timeout_s is None:
        raw = os.environ.get("JAXSR_INIT_TIMEOUT", "120")
        try:
            timeout_s = int(raw)
        except ValueError:
            timeout_s = 0
        if timeout_s < 1:
            raise JaxsrError(f"JAXSR_INIT_TIMEOUT must be a positive number of seconds, got {raw!r}")
    kwargs = {}
    if address:
        try:
            kwargs = {"coordinator_address": address, "num_processes": int(os.environ["JAX_NUM_PROCESSES"]),
                      "process_id": int(os.environ["JAX_PROCESS_ID"])}
        except (KeyError, ValueError):
            raise JaxsrError("JAX_COORDINATOR_ADDRESS needs JAX_NUM_PROCESSES and JAX_PROCESS_ID "
                             "(integers)") from None
    if os.environ.get("JAX_PLATFORMS", "").startswith("cpu"):
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if address and kwargs["process_id"] != 0:
        _wait_for_coordinator(address, timeout_s)  # XLA aborts the process on a timeout: check first
    elif address:
        print(f"waiting up to {timeout_s}s for {kwargs['num_processes']} processes at {address}",
              file=sys.stderr, flush=True)
    # XLA aborts the process (SIGABRT, a C++ stack) when the peers do not all come in time: a watchdog
    # ends it first with one line. XLA's own limit is set later so that the watchdog always fires first.
    watchdog = threading.Timer(timeout_s, _give_up, (timeout_s, address, kwargs.get("num_processes")))
    watchdog.daemon = True
    watchdog.start()
    try:
        jax.distributed.initialize(initialization_timeout=timeout_s + 60, **kwargs)
    except Exception as e:  # XLA raises RuntimeError/XlaRuntimeError with long texts
        first = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        raise JaxsrError(f"jax.distributed.initialize failed within {timeout_s}s "
                         f"(coordinator {address or 'auto-detected'}): {first}") from None
    finally:
        watchdog.cancel()
    return True


def _give_up(timeout_s: int, address: str | None, num_processes: int | None) -> None:
    """Watchdog of ``initialize_distributed``: one line, exit status 1 (no Python cleanup: XLA is blocked)."""
    peers = f"all {num_processes} processes" if num_processes else "the other processes"
    print(f"error: {peers} did not join at {address or 'the auto-detected coordinator'} within {timeout_s}s "
          "(JAXSR_INIT_TIMEOUT); start every process with the same JAX_COORDINATOR_ADDRESS and "
          "JAX_NUM_PROCESSES", file=sys.stderr, flush=True)
    os._exit(1)


def _wait_for_coordinator(address: str, timeout_s: int) -> None:
    """Poll a TCP connection to ``host:port`` until it opens; JaxsrError after ``timeout_s`` seconds."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise JaxsrError(f"JAX_COORDINATOR_ADDRESS must be host:port, got {address!r}")
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=2):
                return
        except OSError as e:
            if time.monotonic() > deadline:
                raise JaxsrError(f"cannot reach the coordinator at {address} within {timeout_s}s ({e.strerror or e}); "
                                 "start process 0 first, or check JAX_COORDINATOR_ADDRESS") from None
            time.sleep(0.5)


def make_mesh(devices=None) -> Mesh:
    """A 1-D mesh named ``data`` over all (global) devices."""
    devices = jax.devices() if devices is None else devices
    return Mesh(np.asarray(devices), ("data",))


def describe(mesh: Mesh) -> str:
    """``4 gpu devices (NVIDIA H200) in 1 process`` (the mesh's platform, device kind and process count)."""
    first, n = mesh.devices.flat[0], mesh.size
    processes = jax.process_count()
    return (f"{n} {first.platform} device{'s' * (n != 1)} ({first.device_kind}) in {processes} "
            f"process{'es' * (processes != 1)}")


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def batch_sharded(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P("data"))


def check_batch_size(batch_size: int, mesh: Mesh) -> None:
    """The global batch must split evenly over devices and processes."""
    if batch_size % mesh.size:
        raise JaxsrError(f"batch_size {batch_size} is not divisible by the {mesh.size} devices "
                         f"({jax.process_count()} processes × {jax.local_device_count()} local); "
                         f"use a multiple of {mesh.size}")


def replicate(tree, mesh: Mesh):
    """Place a pytree of host or device arrays on every device of the mesh (same value everywhere)."""
    sharding = replicated(mesh)
    return jax.tree_util.tree_map(lambda a: jax.make_array_from_callback(
        np.shape(a), sharding, lambda idx, a=np.asarray(a): a[idx]), jax.device_get(tree))


def global_batch(local: dict, mesh: Mesh) -> dict:
    """This process's rows of a batch (numpy) → global arrays sharded over ``data``."""
    sharding = batch_sharded(mesh)
    return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v)) for k, v in local.items()}


def local_copy(tree):
    """Host numpy copy of a replicated (possibly multi-host) pytree, for process-local work like eval."""
    return jax.tree_util.tree_map(lambda a: np.asarray(a.addressable_data(0)) if isinstance(a, jax.Array)
                                  else np.asarray(a), tree)


def allgather(x: np.ndarray) -> np.ndarray:
    """Stack ``x`` from every process: (process_count, *x.shape); no-op stacking with one process."""
    if jax.process_count() == 1:
        return np.asarray(x)[None]
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(np.asarray(x)))
