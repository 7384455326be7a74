"""Who may see which caregiver: pure rules of providers.access."""
import pytest

from core.errors import NotFound
from core.roles import circle_for
from core.users import User
from providers import access


def test_a_dispatcher_bound_to_a_circle_sees_only_its_caregivers():
    """Day sheets carry elders' addresses and care notes: another circle's dispatcher gets nothing."""
    bound = User(id=1, username="d", role="dispatcher", circle_id=1)
    unbound = User(id=2, username="d2", role="dispatcher")
    assert access.may_see_caregiver(bound, caregiver_id=9, provider_id=3, circle_id=1)
    assert not access.may_see_caregiver(bound, caregiver_id=9, provider_id=3, circle_id=2)
    assert access.may_see_caregiver(unbound, caregiver_id=9, provider_id=3, circle_id=2)
    assert circle_for(bound, None) == 1 and circle_for(bound, 1) == 1
    assert circle_for(unbound, None) is None and circle_for(unbound, 2) == 2
    with pytest.raises(NotFound):   # another circle: 404 for every list, as for one record
        circle_for(bound, 2)
