"""The page shells and static files over HTTP (no browser): every console is served, in Chinese,
with a strict Content-Security-Policy, and its scripts and stylesheet exist."""
import re

import pytest

from app.pages import PAGES, STATIC_DIR


@pytest.mark.parametrize("path", sorted(PAGES))
async def test_each_page_is_served_in_chinese_with_a_strict_csp(client, path):
    response = await client.get(path)
    assert response.status == 200 and response.content_type == "text/html"
    html = await response.text()
    assert '<html lang="zh-CN">' in html and 'name="viewport"' in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "<script>" not in html and " style=" not in html          # nothing inline: the CSP forbids it
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        assert (await client.get(asset)).status == 200, asset


async def test_static_files_are_versioned_and_cached(client):
    response = await client.get("/static/common.js?v=1")
    assert response.status == 200 and "immutable" in response.headers["Cache-Control"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert (await client.get("/static/missing.js")).status == 404
    assert (await client.get("/static/../__init__.py")).status in (403, 404)


def test_every_module_script_is_shipped():
    shipped = {p.name for p in STATIC_DIR.iterdir()}
    for _, _, _, script in PAGES.values():
        assert script in shipped
    for path in STATIC_DIR.glob("*.js"):
        for imported in re.findall(r'from "\./([^"]+)"', path.read_text()):
            assert imported in shipped, (path.name, imported)


async def test_the_api_keeps_its_own_error_shape(client):
    response = await client.get("/api/v1/bookings")
    assert response.status == 401 and (await response.json())["error"]["code"] == "unauthenticated"
    assert "Content-Security-Policy" not in response.headers


def test_scripts_parse_as_modules(tmp_path):
    """A syntax error in one script would blank a whole console: parse each with Node if present."""
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed; the browser tests still load every script")
    for path in STATIC_DIR.glob("*.js"):
        copy = tmp_path / (path.stem + ".mjs")
        copy.write_text(path.read_text())
        result = subprocess.run([node, "--check", str(copy)], capture_output=True, text=True)
        assert result.returncode == 0, f"{path.name}: {result.stderr}"
