"""Local registries for tests: Debian's docker-registry on 127.0.0.1.

Three flavours, each in its own temporary directory (config, storage,
certificates, logs), on a free loopback port:

  plain   plain HTTP, anonymous
  tls     HTTPS with a self-signed test CA (made with the `openssl`
          command), plus Basic auth from an htpasswd file (`htpasswd -B`)
  token   HTTPS as above, plus the Bearer token flow: a small token
          service (this module, on another loopback port) issues ES256
          JWTs that docker-registry verifies against the test CA; the user
          gets the actions asked for, anonymous requests get none

Use from pytest:

    from registry import registry_plain, registry_tls, registry_token  # noqa

    def test_pull(registry_tls):
        registry_tls.host      # "127.0.0.1:PORT"
        registry_tls.ca_file   # PEM of the test CA
        registry_tls.user, registry_tls.password

or from anything else (the C unit tests do this):

    python3 tests/integration/registry.py run --dir DIR [--tls] \\
        [--auth htpasswd|token]

which prints one JSON line ({"host", "url", "ca_file", "user", "password",
"pid", "dir"}) once /v2/ answers, then serves until its standard input
closes or it gets SIGTERM, and stops the registry (by pid) on the way out.

Only processes started here are stopped, by their pid.  Nothing listens
beyond 127.0.0.1.
"""

import argparse
import base64
import http.server
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

REGISTRY_BINARY = shutil.which("docker-registry") or "/usr/bin/docker-registry"
SERVICE = "cove-test-registry"
ISSUER = "cove-test-token-issuer"
START_TIMEOUT = 20.0


def missing_tools(tls=False, auth=None):
    """Names of the programs a flavour needs that are not installed."""
    need = ["docker-registry"]
    if tls or auth:
        need.append("openssl")
    if auth == "htpasswd":
        need.append("htpasswd")
    return [t for t in need if not shutil.which(t)]


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd, **kw):
    return subprocess.run(
        cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw
    )


def make_ca(d):
    """A test CA, a server certificate for 127.0.0.1/localhost, and an EC
    key + certificate that sign tokens.  Returns a dict of paths."""
    p = {
        "ca_key": os.path.join(d, "ca.key"),
        "ca_cert": os.path.join(d, "ca.crt"),
        "server_key": os.path.join(d, "server.key"),
        "server_csr": os.path.join(d, "server.csr"),
        "server_cert": os.path.join(d, "server.crt"),
        "ext": os.path.join(d, "server.ext"),
        "signer_key": os.path.join(d, "signer.key"),
        "signer_csr": os.path.join(d, "signer.csr"),
        "signer_cert": os.path.join(d, "signer.crt"),
    }
    _run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout",
          "-out", p["ca_key"]])
    _run(["openssl", "req", "-x509", "-new", "-key", p["ca_key"],
          "-sha256", "-days", "2", "-subj", "/CN=cove test CA",
          "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
          "-out", p["ca_cert"]])
    with open(p["ext"], "w") as f:
        f.write("basicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for key, csr, cert, cn, ext in (
        ("server_key", "server_csr", "server_cert", "127.0.0.1", True),
        ("signer_key", "signer_csr", "signer_cert", "cove token signer",
         False),
    ):
        _run(["openssl", "ecparam", "-name", "prime256v1", "-genkey",
              "-noout", "-out", p[key]])
        _run(["openssl", "req", "-new", "-key", p[key], "-subj", f"/CN={cn}",
              "-out", p[csr]])
        cmd = ["openssl", "x509", "-req", "-in", p[csr], "-CA", p["ca_cert"],
               "-CAkey", p["ca_key"], "-CAcreateserial", "-days", "2",
               "-sha256", "-out", p[cert]]
        if ext:
            cmd += ["-extfile", p["ext"]]
        _run(cmd)
    # docker-registry reads PKCS#8 or SEC1 keys; openssl ecparam writes SEC1.
    return p


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _der_ecdsa_to_raw(der):
    """ECDSA-Sig-Value (DER SEQUENCE of two INTEGERs) -> r || s (64 bytes),
    the form JWS ES256 wants."""
    def read_len(buf, i):
        n = buf[i]
        i += 1
        if n & 0x80:
            k = n & 0x7F
            n = int.from_bytes(buf[i:i + k], "big")
            i += k
        return n, i

    assert der[0] == 0x30
    _, i = read_len(der, 1)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n, i = read_len(der, i + 1)
        v = int.from_bytes(der[i:i + n], "big")
        i += n
        out += v.to_bytes(32, "big")
    return out


class TokenIssuer:
    """Signs registry tokens (JWT ES256 with an x5c chain) through the
    openssl command, so that no Python crypto module is needed."""

    def __init__(self, key_file, cert_file):
        self.key_file = key_file
        with open(cert_file) as f:
            pem = f.read()
        der = ssl.PEM_cert_to_DER_cert(pem)
        self.x5c = [base64.b64encode(der).decode()]

    def sign(self, claims):
        header = {"typ": "JWT", "alg": "ES256", "x5c": self.x5c}
        signing_input = (
            _b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        der = _run(["openssl", "dgst", "-sha256", "-sign", self.key_file],
                   input=signing_input.encode()).stdout
        return signing_input + "." + _b64url(_der_ecdsa_to_raw(der))


class TokenServer:
    """GET /token?service=S&scope=repository:NAME:ACTIONS... with optional
    Basic credentials.  The configured user gets what it asks for; wrong
    credentials get 401; anonymous requests get a token without access.
    Every request is logged in self.requests for tests to inspect."""

    def __init__(self, issuer, user, password, certfile=None, keyfile=None,
                 log_path=None):
        self.issuer = issuer
        self.log_path = log_path
        self.user = user
        self.password = password
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server._handle(self)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.scheme = "http"
        if certfile:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(certfile, keyfile)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket,
                                                server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)

    @property
    def realm(self):
        return f"{self.scheme}://127.0.0.1:{self.port}/token"

    def start(self):
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handle(self, h):
        url = urllib.parse.urlparse(h.path)
        q = urllib.parse.parse_qs(url.query)
        user = None
        auth = h.headers.get("Authorization", "")
        entry = {"path": url.path, "query": q,
                 "basic": auth.lower().startswith("basic ")}
        self.requests.append(entry)
        if self.log_path:
            with open(self.log_path, "a") as f:
                f.write(json.dumps(entry) + "\n")
        if url.path != "/token":
            h.send_error(404)
            return
        if auth:
            scheme, _, value = auth.partition(" ")
            try:
                u, _, pw = base64.b64decode(value).decode().partition(":")
            except ValueError:
                u, pw = None, None
            if scheme.lower() != "basic" or (u, pw) != (self.user,
                                                        self.password):
                body = json.dumps({"errors": [{
                    "code": "UNAUTHORIZED",
                    "message": "invalid username or password"}]}).encode()
                h.send_response(401)
                h.send_header("Content-Type", "application/json")
                h.send_header("Content-Length", str(len(body)))
                h.end_headers()
                h.wfile.write(body)
                return
            user = u
        access = []
        for scope in q.get("scope", []):
            for item in scope.split(" "):
                parts = item.split(":")
                if len(parts) < 3 or parts[0] != "repository":
                    continue
                name = ":".join(parts[1:-1])
                actions = parts[-1].split(",") if user else []
                access.append({"type": "repository", "name": name,
                               "actions": actions})
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": user or "",
            "aud": q.get("service", [SERVICE])[0],
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        token = self.issuer.sign(claims)
        body = json.dumps({"token": token, "access_token": token,
                           "expires_in": 300}).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)


class Registry:
    """One docker-registry process.  start() returns once /v2/ answers;
    stop() ends it by pid (and the token server, if any)."""

    def __init__(self, workdir, tls=False, auth=None, user="cove",
                 password=None):
        if auth not in (None, "htpasswd", "token"):
            raise ValueError(f"unknown auth {auth!r}")
        if auth and not tls:
            # Credentials never travel in clear, even on loopback.
            raise ValueError("auth needs tls")
        self.dir = workdir
        self.tls = tls
        self.auth = auth
        self.user = user if auth else None
        self.password = (password or secrets.token_hex(12)) if auth else None
        self.port = None
        self.proc = None
        self.ca_file = None
        self.token_server = None
        self.log_path = os.path.join(workdir, "registry.log")

    @property
    def host(self):
        return f"127.0.0.1:{self.port}"

    @property
    def url(self):
        return f"{'https' if self.tls else 'http'}://{self.host}"

    def ssl_context(self):
        if not self.tls:
            return None
        return ssl.create_default_context(cafile=self.ca_file)

    def _config(self, certs):
        lines = [
            "version: 0.1",
            "log:",
            "  level: warn",
            "  accesslog:",
            "    disabled: true",
            "storage:",
            "  cache:",
            "    blobdescriptor: inmemory",
            "  filesystem:",
            f"    rootdirectory: {os.path.join(self.dir, 'storage')}",
            "  delete:",
            "    enabled: true",
            "http:",
            f"  addr: 127.0.0.1:{self.port}",
            f"  secret: {secrets.token_hex(16)}",
        ]
        if self.tls:
            lines += [
                "  tls:",
                f"    certificate: {certs['server_cert']}",
                f"    key: {certs['server_key']}",
            ]
        if self.auth == "htpasswd":
            htpasswd = os.path.join(self.dir, "htpasswd")
            out = _run(["htpasswd", "-Bbn", self.user, self.password]).stdout
            with open(htpasswd, "wb") as f:
                f.write(out)
            lines += [
                "auth:",
                "  htpasswd:",
                "    realm: cove-test",
                f"    path: {htpasswd}",
            ]
        elif self.auth == "token":
            lines += [
                "auth:",
                "  token:",
                f"    realm: {self.token_server.realm}",
                f"    service: {SERVICE}",
                f"    issuer: {ISSUER}",
                f"    rootcertbundle: {certs['ca_cert']}",
            ]
        path = os.path.join(self.dir, "config.yml")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def _ready(self):
        req = urllib.request.Request(self.url + "/v2/")
        try:
            with urllib.request.urlopen(req, timeout=2,
                                        context=self.ssl_context()):
                return True
        except urllib.error.HTTPError as e:
            return e.code == 401
        except (OSError, urllib.error.URLError):
            return False

    def start(self):
        missing = missing_tools(self.tls, self.auth)
        if missing:
            raise RuntimeError("missing: " + ", ".join(missing))
        certs = None
        if self.tls:
            certs = make_ca(self.dir)
            self.ca_file = certs["ca_cert"]
        if self.auth == "token":
            self.token_server = TokenServer(
                TokenIssuer(certs["signer_key"], certs["signer_cert"]),
                self.user, self.password,
                certfile=certs["server_cert"], keyfile=certs["server_key"],
                log_path=os.path.join(self.dir, "token-requests.log"))
            self.token_server.start()
        last_log = ""
        # The port is free when picked but could be taken before the
        # registry binds it: try a few.
        for _ in range(3):
            self.port = free_port()
            config = self._config(certs)
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                [REGISTRY_BINARY, "serve", config],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True)
            log.close()
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if self._ready():
                    return self
                time.sleep(0.1)
            self._stop_process()
            with open(self.log_path, errors="replace") as f:
                last_log = f.read()[-2000:]
        self.stop()
        raise RuntimeError(f"docker-registry did not start:\n{last_log}")

    def _stop_process(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def stop(self):
        self._stop_process()
        if self.token_server:
            self.token_server.stop()
            self.token_server = None

    def info(self):
        return {
            "host": self.host,
            "url": self.url,
            "ca_file": self.ca_file,
            "user": self.user,
            "password": self.password,
            "pid": self.proc.pid if self.proc else None,
            "dir": self.dir,
        }

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# ---------------------------------------------------------------------------
# pytest fixtures (import them into a test module or a conftest)
# ---------------------------------------------------------------------------

try:
    import pytest
except ImportError:  # the `run` command needs no pytest
    pytest = None

if pytest is not None:

    def _fixture(tls, auth):
        @pytest.fixture
        def fixture(tmp_path):
            missing = missing_tools(tls, auth)
            if missing:
                pytest.skip("not installed: " + ", ".join(missing))
            reg = Registry(str(tmp_path), tls=tls, auth=auth)
            reg.start()
            try:
                yield reg
            finally:
                reg.stop()

        return fixture

    registry_plain = _fixture(False, None)
    registry_tls = _fixture(True, "htpasswd")
    registry_token = _fixture(True, "token")


# ---------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="serve until stdin closes or SIGTERM")
    run.add_argument("--dir", help="work directory (default: a new tmp dir)")
    run.add_argument("--tls", action="store_true")
    run.add_argument("--auth", choices=["htpasswd", "token"])
    run.add_argument("--user", default="cove")
    run.add_argument("--password")
    args = ap.parse_args(argv)

    workdir = args.dir or tempfile.mkdtemp(prefix="cove-registry-")
    os.makedirs(workdir, exist_ok=True)
    missing = missing_tools(args.tls, args.auth)
    if missing:
        print(json.dumps({"skip": "not installed: " + ", ".join(missing)}),
              flush=True)
        return 0
    reg = Registry(workdir, tls=args.tls, auth=args.auth, user=args.user,
                   password=args.password)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        reg.start()
    except RuntimeError as e:
        print(json.dumps({"error": str(e)}), flush=True)
        return 1
    try:
        print(json.dumps(reg.info()), flush=True)

        def wait_stdin():
            try:
                while sys.stdin.buffer.read(4096):
                    pass
            except OSError:
                pass
            stop.set()

        threading.Thread(target=wait_stdin, daemon=True).start()
        while not stop.wait(0.5):
            if reg.proc is None or reg.proc.poll() is not None:
                print("registry exited", file=sys.stderr)
                return 1
    finally:
        reg.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
