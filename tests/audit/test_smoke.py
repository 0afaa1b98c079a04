from steward.governance import GovernanceService
from steward.objects import ObjectService
from steward.policy import Principal
from steward.runtime import Runtime


def test_put_then_verify(rt: Runtime) -> None:
    ObjectService(rt).put(Principal("alice"), b"x", site="eu-fra", jurisdiction="EU")
    v = GovernanceService(rt).verify(Principal("bob"))
    assert v.ok and v.entries == 1
