"""Hydra plugin of bounded-lr-resolver (see bounded_lr_resolver_plugin.py).

Keep this file empty: Hydra imports it in every app on the machine.
"""
