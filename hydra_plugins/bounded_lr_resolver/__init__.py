"""bounded-lr-resolver\x27s Hydra plugin (see bounded_lr_resolver_plugin.py). Keep this file empty: Hydra imports it in every app."""
