"""Self-tests of the local registry fixtures (registry.py) that the pull and
push tests build on: each flavour answers /v2/ the way a real registry
does, accepts an upload with the credentials it was made with, and refuses
one without.  Plain HTTP and urllib only, no cove."""

import base64
import hashlib
import json
import urllib.error
import urllib.request

from registry import registry_plain, registry_tls, registry_token  # noqa: F401


def _req(reg, url, method="GET", data=None, headers=None):
    if not url.startswith("http"):
        url = reg.url + url
    rq = urllib.request.Request(url, method=method, data=data,
                                headers=headers or {})
    try:
        with urllib.request.urlopen(rq, timeout=10,
                                    context=reg.ssl_context()) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def _basic(reg):
    pair = f"{reg.user}:{reg.password}".encode()
    return "Basic " + base64.b64encode(pair).decode()


def _push_blob(reg, repo, data, auth):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    st, h, _ = _req(reg, f"/v2/{repo}/blobs/uploads/", "POST", b"",
                    {"Authorization": auth} if auth else {})
    assert st == 202, st
    loc = h["Location"]
    sep = "&" if "?" in loc else "?"
    st, h, _ = _req(reg, f"{loc}{sep}digest={digest}", "PUT", data,
                    {"Authorization": auth, "Content-Type":
                     "application/octet-stream"} if auth else
                    {"Content-Type": "application/octet-stream"})
    assert st == 201, st
    return digest


def test_plain_registry(registry_plain):
    st, h, _ = _req(registry_plain, "/v2/")
    assert st == 200
    assert registry_plain.url.startswith("http://127.0.0.1:")
    digest = _push_blob(registry_plain, "fixture/test", b"hello", None)
    st, _, body = _req(registry_plain, f"/v2/fixture/test/blobs/{digest}")
    assert st == 200 and body == b"hello"


def test_tls_basic_registry(registry_tls):
    assert registry_tls.url.startswith("https://127.0.0.1:")
    st, h, _ = _req(registry_tls, "/v2/")
    assert st == 401
    assert h["WWW-Authenticate"].startswith("Basic ")
    st, _, _ = _req(registry_tls, "/v2/",
                    headers={"Authorization": _basic(registry_tls)})
    assert st == 200
    _push_blob(registry_tls, "fixture/test", b"x" * 1000, _basic(registry_tls))


def test_token_registry(registry_token):
    st, h, _ = _req(registry_token, "/v2/fixture/test/tags/list")
    assert st == 401
    challenge = h["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert registry_token.token_server.realm in challenge
    scope = "repository:fixture/test:pull,push"
    token_url = (f"{registry_token.token_server.realm}"
                 f"?service=cove-test-registry&scope={scope}")
    # Wrong password: refused by the token service.
    st, _, _ = _req(registry_token, token_url, headers={
        "Authorization": "Basic " + base64.b64encode(b"cove:nope").decode()})
    assert st == 401
    # Anonymous: a token without access.
    st, _, body = _req(registry_token, token_url)
    assert st == 200
    anon = json.loads(body)["token"]
    st, _, _ = _req(registry_token, "/v2/fixture/test/blobs/uploads/",
                    "POST", b"", {"Authorization": "Bearer " + anon})
    assert st == 401
    # The user: full access.
    st, _, body = _req(registry_token, token_url,
                       headers={"Authorization": _basic(registry_token)})
    assert st == 200
    token = json.loads(body)["token"]
    _push_blob(registry_token, "fixture/test", b"y" * 10,
               "Bearer " + token)
    assert any(r["basic"] for r in registry_token.token_server.requests)
