"""Package data: the Hydra config groups this package ships (``scheduler/bounded_*.yaml``)."""
