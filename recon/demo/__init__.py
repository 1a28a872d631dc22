"""`recon demo` and `recon stripe-api`: the only part of the command that imports the demo world.

The demo world (`demoworld/`: the generator, the local Stripe-compatible API, the webhook
sender) is a simulator, not part of a run on real books: besides the tests and benchmarks, only
this package imports it. This module stays light, because the command line imports it to build
its parser; `recon.demo.run` runs the demo and `recon.demo.live` its live webhook phase.
"""

from __future__ import annotations

from demoworld.mess import add_mess_options, resolve_mess
from demoworld.stripe_api import main as stripe_api_main

__all__ = ["add_mess_options", "resolve_mess", "stripe_api_main"]
