"""The local payment provider for tests: localstripe, a stateful fake of
the Stripe API, bound to 127.0.0.1 only (it listens on every interface by
default) and keeping its state file in a folder of the caller's instead of
/tmp. It starts empty; `DELETE /_config/data` empties it again.

localstripe is more lenient than Stripe: it ignores Idempotency-Key, lets
refunds exceed their charge, and answers an off-session charge that needs
authentication with 200 and `requires_action` (Stripe: 402
`authentication_required`). The settlement code guarantees each of those
itself; the tests prove it. It also predates
`automatic_payment_methods`, which the client sends so that an
off-session charge never redirects: localstripe accepts and ignores it
(it charges the given card and never redirects anyway).

Usage: python scripts/local_stripe.py PORT STATE_DIR
"""

import os
import pickle
import signal
import sys

from aiohttp import web
from localstripe import resources, server


def accept_and_ignore(cls, *names) -> None:
    original = cls.__init__

    def init(self, *args, **kwargs):
        for name in names:
            kwargs.pop(name, None)
        original(self, *args, **kwargs)

    cls.__init__ = init


def main() -> None:
    port = int(sys.argv[1])
    state = os.path.join(sys.argv[2], "localstripe.pickle")
    os.makedirs(sys.argv[2], exist_ok=True)

    def dump(self):
        with open(state, "wb") as f:
            pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)

    resources.Store.dump_to_disk = dump
    resources.Store.try_load_from_disk = lambda self: None
    resources.store.clear()
    accept_and_ignore(resources.PaymentIntent, "automatic_payment_methods")
    accept_and_ignore(resources.SetupIntent, "automatic_payment_methods")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    web.run_app(server.app, host="127.0.0.1", port=port, print=None)


if __name__ == "__main__":
    main()
