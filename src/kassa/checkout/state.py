"""The checkout session state machine: every allowed transition, in one table, checked in one place."""

from __future__ import annotations

from enum import StrEnum

from kassa.errors import BadRequest


class Status(StrEnum):
    OPEN = "open"
    COMPLETE = "complete"
    INCOMPLETE = "incomplete"  # paid in part, still payable until it expires
    EXPIRED = "expired"


class PaymentStatus(StrEnum):
    UNPAID = "unpaid"
    PAID = "paid"


class Transition(StrEnum):
    COMPLETE = "complete"  # confirmed payments cover the amount due
    PART_PAY = "part_pay"  # confirmed payments cover part of it
    ACCEPT_PARTIAL = "accept_partial"  # the merchant accepts what was paid
    EXPIRE = "expire"  # expiresAt passed (or the merchant expired it) with nothing confirmed


TRANSITIONS: dict[tuple[Status, Transition], Status] = {
    (Status.OPEN, Transition.COMPLETE): Status.COMPLETE,
    (Status.OPEN, Transition.PART_PAY): Status.INCOMPLETE,
    (Status.OPEN, Transition.EXPIRE): Status.EXPIRED,
    (Status.INCOMPLETE, Transition.COMPLETE): Status.COMPLETE,
    (Status.INCOMPLETE, Transition.PART_PAY): Status.INCOMPLETE,
    (Status.INCOMPLETE, Transition.ACCEPT_PARTIAL): Status.COMPLETE,
    # A part-paid session that runs out of time stays incomplete: money arrived and is never thrown away.
}

PAYMENT_STATUS_AFTER: dict[Status, PaymentStatus] = {
    Status.OPEN: PaymentStatus.UNPAID,
    Status.INCOMPLETE: PaymentStatus.UNPAID,
    Status.EXPIRED: PaymentStatus.UNPAID,
    Status.COMPLETE: PaymentStatus.PAID,
}


def sources_of(transition: Transition) -> frozenset[Status]:
    """The states from which `transition` may start (used in conditional UPDATEs)."""
    return frozenset(src for (src, t) in TRANSITIONS if t == transition)


def next_status(current: Status | str, transition: Transition) -> Status:
    target = TRANSITIONS.get((Status(current), transition))
    if target is None:
        raise InvalidTransition(Status(current), transition)
    return target


class InvalidTransition(BadRequest):
    def __init__(self, current: Status, transition: Transition) -> None:
        reasons = {
            Status.COMPLETE: "it is already complete",
            Status.EXPIRED: "it has expired",
            Status.INCOMPLETE: "it has been paid in part",
            Status.OPEN: "it is still open",
        }
        super().__init__(f"Cannot {transition.value.replace('_', ' ')} this checkout session: {reasons[current]}")
        self.current = current
        self.transition = transition
