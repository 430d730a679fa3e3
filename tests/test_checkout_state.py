from __future__ import annotations

import pytest

from kassa.checkout.state import TRANSITIONS, InvalidTransition, Status, Transition, next_status, sources_of

ALLOWED = {
    ("open", Transition.COMPLETE): Status.COMPLETE,
    ("open", Transition.PART_PAY): Status.INCOMPLETE,
    ("open", Transition.EXPIRE): Status.EXPIRED,
    ("incomplete", Transition.COMPLETE): Status.COMPLETE,
    ("incomplete", Transition.PART_PAY): Status.INCOMPLETE,
    ("incomplete", Transition.ACCEPT_PARTIAL): Status.COMPLETE,
}


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("transition", list(Transition))
def test_exactly_the_allowed_transitions_lead_somewhere_and_every_other_is_refused(
    status: Status, transition: Transition
) -> None:
    target = ALLOWED.get((status.value, transition))
    if target is None:
        with pytest.raises(InvalidTransition):
            next_status(status, transition)
    else:
        assert next_status(status.value, transition) is target


@pytest.mark.parametrize(
    ("status", "transition", "reason"),
    [
        ("complete", Transition.COMPLETE, "already complete"),
        ("expired", Transition.COMPLETE, "expired"),
        ("complete", Transition.EXPIRE, "already complete"),
        ("incomplete", Transition.EXPIRE, "paid in part"),
        ("open", Transition.ACCEPT_PARTIAL, "still open"),
    ],
)
def test_forbidden_transitions_say_why(status: str, transition: Transition, reason: str) -> None:
    with pytest.raises(InvalidTransition) as info:
        next_status(status, transition)
    assert reason in str(info.value)


def test_terminal_states_have_no_way_out() -> None:
    for (source, _), _target in TRANSITIONS.items():
        assert source not in (Status.COMPLETE, Status.EXPIRED)


def test_only_open_or_part_paid_sessions_complete_and_only_open_ones_expire() -> None:
    assert sources_of(Transition.COMPLETE) == {Status.OPEN, Status.INCOMPLETE}
    assert sources_of(Transition.PART_PAY) == {Status.OPEN, Status.INCOMPLETE}
    assert sources_of(Transition.ACCEPT_PARTIAL) == {Status.INCOMPLETE}
    assert sources_of(Transition.EXPIRE) == {Status.OPEN}
