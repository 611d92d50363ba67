"""The transaction layer (RFC 3261 §17, RFC 6026): client and server state machines, Timers A-M."""

from zongji.sip.transaction.base import TransactionState
from zongji.sip.transaction.client import (
    ClientTransaction,
    ClientTransactionUser,
    InviteClientTransaction,
    NonInviteClientTransaction,
)
from zongji.sip.transaction.layer import TransactionLayer, TransactionUser
from zongji.sip.transaction.server import (
    InviteServerTransaction,
    NonInviteServerTransaction,
    ServerTransaction,
)

__all__ = [
    "ClientTransaction",
    "ClientTransactionUser",
    "InviteClientTransaction",
    "InviteServerTransaction",
    "NonInviteClientTransaction",
    "NonInviteServerTransaction",
    "ServerTransaction",
    "TransactionLayer",
    "TransactionState",
    "TransactionUser",
]
