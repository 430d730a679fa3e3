from __future__ import annotations

import pytest

from kassa.checkout.state import TRANSITIONS, InvalidTransition, Status, Transition, next_status, sources_of


def test_transition_table() -> None:
    assert next_status("open", Transition.COMPLETE) is Status.COMPLETE
    assert next_status("open", Transition.PART_PAY) is Status.INCOMPLETE
    assert next_status("incomplete", Transition.COMPLETE) is Status.COMPLETE
    assert next_status("incomplete", Transition.ACCEPT_PARTIAL) is Status.COMPLETE
    assert next_status("open", Transition.EXPIRE) is Status.EXPIRED


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


def test_sources() -> None:
    assert sources_of(Transition.COMPLETE) == {Status.OPEN, Status.INCOMPLETE}
    assert sources_of(Transition.EXPIRE) == {Status.OPEN}
