"""The real server binary in --dev mode, for the authlib tests: one server per test module on a
port of its own, the issuer, client secret and password it prints, and signing in through its
HTML form as a browser without JavaScript would."""

import json
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

REDIRECT_URI = "http://127.0.0.1:9999/callback"
CLIENT_ID = "demo-client"


class DevServer:
    def __init__(self, port):
        binary = os.environ["MERIDIAN_AUTH_SERVER_BIN"]
        self.dir = Path(tempfile.mkdtemp(prefix="meridian-py-"))
        self.process = subprocess.Popen(
            [binary, "--dev", "--listen", f"127.0.0.1:{port}", "--config-dir", str(self.dir)],
            stdout=subprocess.PIPE,
            text=True,
        )
        out = ""
        while not (self.issuer_match(out) and "user:" in out):
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"server exited: {out}")
            out += line
        self.issuer = self.issuer_match(out).group(1)
        self.secret = re.search(r"client:\s+\S+ / (\S+)", out).group(1)
        self.password = re.search(r"user:\s+\S+ / (\S+)", out).group(1)
        for _ in range(100):
            try:
                if requests.get(urljoin(self.issuer, "/readyz"), timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.05)

    @staticmethod
    def issuer_match(out):
        return re.search(r"issuer:\s+(\S+)", out)

    def metadata(self):
        return requests.get(f"{self.issuer}/.well-known/openid-configuration", timeout=5).json()

    def edit_tenant(self, edit, served):
        """Rewrites the demo tenant's configuration (the server watches its directory) and
        waits until `served()` says the server serves it."""
        path = self.dir / "demo.tenant.json"
        config = json.loads(path.read_text())
        edit(config)
        path.write_text(json.dumps(config, indent=2))
        for _ in range(100):
            if served():
                return
            time.sleep(0.1)
        raise RuntimeError("the edited configuration was never served")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(request):
    dev = DevServer(request.module.PORT)
    yield dev
    dev.stop()


def field(html, name):
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


def sign_in(browser, url, username, password):
    """Opens an authorize URL in `browser` (a requests.Session keeping cookies), submits the
    login form, and returns the URL the server redirects to."""
    page = browser.get(url, allow_redirects=False, timeout=5)
    assert page.status_code == 200, page.text
    form = {
        "login_id": field(page.text, "login_id"),
        "csrf": field(page.text, "csrf"),
        "username": username,
        "password": password,
    }
    login = browser.post(urljoin(url, "login"), data=form, allow_redirects=False, timeout=5)
    assert 300 <= login.status_code < 400, login.text
    return login.headers["location"]
