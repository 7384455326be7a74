"""App wiring: client address behind a proxy, settings, the CLI's parser."""
from aiohttp.test_utils import make_mocked_request

from app.cli import _parser
from app.routes import client_address


def test_client_address_ignores_forwarded_for_unless_behind_our_proxy():
    request = make_mocked_request("POST", "/api/v1/auth/login",
                                  headers={"X-Forwarded-For": "10.0.0.9, 203.0.113.7"})
    assert client_address(request, trust_proxy=True) == "203.0.113.7"
    assert client_address(request, trust_proxy=False) != "203.0.113.7"


def test_cli_knows_every_command():
    parser = _parser()
    for argv in (["serve", "--port", "9000", "--demo"], ["init-db"], ["demo"], ["worker"],
                 ["users", "create", "--username", "a", "--role", "admin"], ["series", "materialize"]):
        assert parser.parse_args(argv).command == argv[0]
