"""Buyer-only declarations in the node (PROTOCOL.md section 9): where a buyer is reached and with which keys
(`routes`, from the signed trust registry only), and what the node opens its own sealed messages with
(`inbox`)."""

from pcfx.node.sealing.inbox import SealedInbox, own_agreement_keys
from pcfx.node.sealing.routes import (
    BuyerRoute,
    RouteError,
    buyer_route,
    buyer_routes,
    home_account,
    own_account,
)

__all__ = [
    "BuyerRoute",
    "RouteError",
    "SealedInbox",
    "buyer_route",
    "buyer_routes",
    "home_account",
    "own_account",
    "own_agreement_keys",
]
