"""cove pull / push against a real registry (Debian's docker-registry on
127.0.0.1, started per test by registry.py): round trips that end in a
running container, digest pinning, multi-platform indexes, TLS with
authentication, a pull killed half-way, and hostile registry content."""

import json
import os
import random
import signal
import subprocess
import time
import uuid

import pytest

from imagelib import (BUSYBOX_NAME, RUNTIME, Cove, Image, RawRegistry,
                      make_layer, need_cove)
from registry import registry_plain, registry_tls, registry_token  # noqa: F401

NOVERIFY = "--tls-verify=false"


@pytest.fixture
def cove(test_tmp):
    need_cove()
    return Cove(os.path.join(test_tmp, "root"))


def run_bundle(test_tmp, bundle, name=None):
    """cove-runtime run --bundle BUNDLE; returns the CompletedProcess."""
    state = os.path.join(test_tmp, "runtime-state")
    os.makedirs(state, exist_ok=True)
    return subprocess.run(
        [RUNTIME, "--root", state, "run", "--bundle", bundle,
         name or "img-" + uuid.uuid4().hex[:12]],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)


def bundle_and_run(cove, test_tmp, cgroup_parent, ref, *cmd, name="b"):
    bundle = os.path.join(test_tmp, name)
    cove.run("bundle", "--cgroups-path", cgroup_parent.child(name), ref,
             bundle, *cmd)
    try:
        with open(os.path.join(bundle, "config.json")) as f:
            cfg = json.load(f)
        assert cfg["linux"]["cgroupsPath"] == cgroup_parent.child(name)
        return run_bundle(test_tmp, bundle)
    finally:
        subprocess.run(["umount", os.path.join(bundle, "rootfs")],
                       capture_output=True)


def test_push_rmi_pull_run(cove, test_tmp, cgroup_parent, registry_plain):
    """busybox archive -> store -> registry -> (rmi) -> store -> bundle ->
    cove-runtime prints hello."""
    name = cove.load_busybox()
    image_id = cove.ids()[0]
    dest = f"{registry_plain.host}/cove/busybox:v1"
    cove.run("push", NOVERIFY, name, dest)
    out = cove.run("rmi", name).stdout
    assert "Deleted:" in out
    assert cove.ids() == []
    # rmi collected the blobs too
    blobs = os.path.join(cove.root, "blobs", "sha256")
    assert os.listdir(blobs) == []

    p = cove.run("pull", NOVERIFY, dest)
    assert p.stdout.strip() == image_id.split(":")[1]
    assert p.stderr == ""  # not a terminal: no progress
    assert cove.ids() == [image_id]
    images = cove.json("images", "--format", "json")
    assert images[0]["Names"] == [dest]

    p = bundle_and_run(cove, test_tmp, cgroup_parent, dest, "sh", "-c",
                       "echo hello from the pulled image")
    assert p.returncode == 0, p.stderr
    assert "hello from the pulled image" in p.stdout


def test_push_is_idempotent_and_keeps_digest(cove, registry_plain, test_tmp):
    name = cove.load_busybox()
    manifest = cove.json("image", "inspect", name)[0]["Digest"]
    dest = f"{registry_plain.host}/cove/busybox:v2"
    dfile = os.path.join(test_tmp, "digest")
    cove.run("push", NOVERIFY, "--digestfile", dfile, name, dest)
    with open(dfile) as f:
        assert f.read() == manifest
    # everything is there already: a second push only re-PUTs the manifest
    cove.run("push", NOVERIFY, name, dest)
    # to a digest-pinned destination: only its own digest
    cove.run("push", NOVERIFY, name,
             f"docker://{registry_plain.host}/cove/pinned@{manifest}")
    wrong = "sha256:" + "0" * 64
    p = cove.fail("push", NOVERIFY, name,
                  f"{registry_plain.host}/cove/pinned@{wrong}")
    assert "manifest digest is" in p.stderr


def test_pull_by_digest(cove, registry_plain):
    name = cove.load_busybox()
    info = cove.json("image", "inspect", name)[0]
    repo = f"{registry_plain.host}/cove/pin"
    cove.run("push", NOVERIFY, name, repo + ":v1")
    cove.run("rmi", name)

    pinned = f"{repo}@{info['Digest']}"
    cove.run("pull", NOVERIFY, pinned)
    got = cove.json("image", "inspect", pinned)[0]
    assert got["Id"] == info["Id"]
    assert got["RepoTags"] == []
    assert f"{repo}@{info['Digest']}" in got["RepoDigests"]
    images = cove.run("images").stdout
    assert f"{repo} " in images and "<none>" in images

    # a digest the registry does not have fails, and records nothing
    cove.run("rmi", "-a")
    bad = f"{repo}@sha256:{'1' * 64}"
    p = cove.fail("pull", NOVERIFY, bad)
    assert "not found" in p.stderr.lower() or "unknown" in p.stderr.lower()
    assert cove.ids() == []


def test_pull_by_digest_detects_substitution(cove, registry_plain):
    """A tag moved to other content does not satisfy a pinned digest."""
    raw = RawRegistry(registry_plain)
    a = Image([make_layer([("a", "file", {"data": b"a"})])])
    b = Image([make_layer([("b", "file", {"data": b"b"})])])
    repo = "cove/subst"
    raw.push_image(repo, "v1", a)
    raw.push_image(repo, "v1", b)  # the tag now names b
    host = registry_plain.host
    cove.run("pull", NOVERIFY, f"{host}/{repo}@{a.digest}")
    assert cove.ids() == [a.id]
    cove.run("pull", NOVERIFY, f"{host}/{repo}:v1")
    assert sorted(cove.ids()) == sorted([a.id, b.id])


def test_multiarch_platform_selection(cove, registry_plain):
    raw = RawRegistry(registry_plain)
    images = {
        arch: Image([make_layer([("arch", "file",
                                  {"data": arch.encode()})])], arch=arch,
                    variant=variant)
        for arch, variant in (("amd64", None), ("arm64", "v8"))
    }
    repo = "cove/multi"
    index_digest = raw.push_index(repo, "latest", list(images.values()))
    ref = f"{registry_plain.host}/{repo}"

    machine = os.uname().machine
    host_arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine)
    if host_arch:
        cove.run("pull", NOVERIFY, ref)
        got = cove.json("image", "inspect", ref)[0]
        assert got["Architecture"] == host_arch
        assert got["Id"] == images[host_arch].id.split(":")[1]
        assert f"{ref}@{index_digest}" in got["RepoDigests"]
        cove.run("rmi", "-a")

    cove.run("pull", NOVERIFY, "--platform", "linux/arm64", ref)
    got = cove.json("image", "inspect", ref)[0]
    assert got["Architecture"] == "arm64"
    assert got["Id"] == images["arm64"].id.split(":")[1]

    # aarch64 is arm64's other name
    cove.run("rmi", "-a")
    cove.run("pull", NOVERIFY, "--platform", "linux/aarch64", ref)
    assert cove.ids() == [images["arm64"].id]

    p = cove.fail("pull", NOVERIFY, "--platform", "linux/s390x", ref)
    assert "linux/s390x" in p.stderr and "linux/amd64" in p.stderr

    # a single-platform image asked for another platform
    raw.push_image("cove/single", "v1", images["amd64"])
    p = cove.fail("pull", NOVERIFY, "--platform", "linux/arm64",
                  f"{registry_plain.host}/cove/single:v1")
    assert "linux/amd64" in p.stderr


@pytest.mark.parametrize("flavour", ["htpasswd", "token"])
def test_tls_and_auth(cove, request, test_tmp, flavour):
    reg = request.getfixturevalue("registry_tls" if flavour == "htpasswd"
                                  else "registry_token")
    authfile = os.path.join(test_tmp, "auth.json")
    certdir = os.path.dirname(reg.ca_file)
    common = ["--authfile", authfile, "--cert-dir", certdir]
    name = cove.load_busybox()
    dest = f"{reg.host}/cove/private:v1"
    # seeded by cove itself, so that both auth flavours work
    seed = Cove(os.path.join(test_tmp, "seed"))
    seed.load_busybox()
    seed.run("push", "--cert-dir", certdir, "--authfile",
             os.path.join(test_tmp, "none.json"), "--creds",
             f"{reg.user}:{reg.password}", BUSYBOX_NAME, dest)

    # TLS is verified: the test CA is unknown without --cert-dir
    p = cove.fail("pull", "--authfile", authfile, dest)
    assert "certificate" in p.stderr.lower() or "tls" in p.stderr.lower()

    # no credentials: a clear 401 message
    p = cove.fail("pull", *common, dest)
    assert "authentication required" in p.stderr
    assert f"cove login {reg.host}" in p.stderr

    # a wrong password is refused and not stored
    p = cove.fail("login", *common, "-u", reg.user, "-p", "wrong", reg.host)
    assert "authentication failed" in p.stderr or "401" in p.stderr
    assert not os.path.exists(authfile) or reg.host not in open(
        authfile).read()

    p = cove.run("login", *common, "-u", reg.user, "--password-stdin",
                 reg.host, input=reg.password + "\n")
    assert "Login Succeeded" in p.stdout
    assert oct(os.stat(authfile).st_mode & 0o777) == "0o600"
    with open(authfile) as f:
        assert reg.host in json.load(f)["auths"]

    cove.run("pull", *common, dest)
    cove.run("push", *common, name, f"{reg.host}/cove/busybox:v1")
    cove.run("rmi", name)
    cove.run("pull", *common, f"{reg.host}/cove/busybox:v1")

    # --creds works without a login
    cove.run("rmi", "-a")
    cove.run("pull", "--authfile", os.path.join(test_tmp, "none.json"),
             "--cert-dir", certdir, "--creds",
             f"{reg.user}:{reg.password}", dest)

    p = cove.run("logout", "--authfile", authfile, reg.host)
    assert "Removed login credentials" in p.stdout
    cove.run("rmi", "-a")
    p = cove.fail("pull", *common, dest)
    assert "authentication required" in p.stderr
    p = cove.fail("logout", "--authfile", authfile, reg.host)
    assert "not logged into" in p.stderr

    # --tls-verify=false skips verification (credentials still needed)
    cove.run("pull", "--tls-verify=false", "--authfile",
             os.path.join(test_tmp, "none.json"), "--creds",
             f"{reg.user}:{reg.password}", dest)


def test_kill_during_pull_then_pull_again(cove, registry_plain):
    """kill -9 at a random moment of a pull leaves a store that the next
    pull completes and fsck finds consistent."""
    raw = RawRegistry(registry_plain)
    big = make_layer([("big", "file", {"data": os.urandom(50 << 20)})])
    small = make_layer([("etc/small", "file", {"data": b"small"})])
    img = Image([small, big], compress=False)
    raw.push_image("cove/big", "v1", img)
    ref = f"{registry_plain.host}/cove/big:v1"

    # How long a whole pull takes here, so that the kill lands inside one.
    start = time.monotonic()
    cove.run("pull", NOVERIFY, ref)
    full = time.monotonic() - start
    cove.run("rmi", "-a")

    # Several kills at random moments: during the download, the unpack or
    # the commit; each leaves a consistent store and records nothing, or,
    # killed after the commit, the whole image.
    kills = 0
    for attempt in range(12):
        delay = random.uniform(0.05, 0.95) * full
        proc = subprocess.Popen(cove.cmd("pull", NOVERIFY, ref),
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            # Between poll() and the kill the pull may have committed:
            # then the image is complete, never half recorded.
            ids = cove.ids()
            assert ids in ([], [img.id]), f"killed after {delay}s: {ids}"
            if ids:
                cove.run("rmi", "-a")
            p = cove.run("image", "fsck")
            assert "store is consistent" in p.stdout, p.stdout
            # the layer may have been complete; start from scratch
            if kills % 2 == 0:
                cove.run("image", "prune", "-a")
        else:
            proc.wait()
            cove.run("rmi", "-a")
        if kills >= 4:
            break
    assert kills > 0, (
        f"the pull always finished before the kill (a pull takes {full}s)")

    cove.run("pull", NOVERIFY, ref)
    assert cove.ids() == [img.id]
    report = cove.json("image", "fsck", "--format", "json")
    assert report["clean"], report
    assert report["corrupt"] == [] and report["dangling"] == []
    assert os.listdir(os.path.join(cove.root, "ingest")) == []


def test_hostile_blob_digest_mismatch(cove, registry_plain):
    """The registry serves a layer whose bytes do not match the manifest:
    the pull fails naming it, and nothing is recorded."""
    raw = RawRegistry(registry_plain)
    layer = make_layer([("f", "file", {"data": b"A" * 4096})])
    others = [make_layer([(f"o{i}", "file", {"data": os.urandom(1 << 20)})])
              for i in range(3)]
    # several layers, so that they are fetched in parallel
    img = Image([others[0], layer, others[1], others[2]], compress=False)
    raw.push_image("cove/tampered", "v1", img)
    layer_digest = img.manifest_obj["layers"][1]["digest"]
    path = raw.blob_data_path(layer_digest)
    tampered = make_layer([("f", "file", {"data": b"B" * 4096})])
    assert len(tampered) == len(layer)
    with open(path, "wb") as f:
        f.write(tampered)

    p = cove.fail("pull", NOVERIFY, f"{registry_plain.host}/cove/tampered:v1")
    assert "digest mismatch" in p.stderr
    assert layer_digest in p.stderr
    assert cove.ids() == []
    assert not os.path.exists(os.path.join(
        cove.root, "blobs", "sha256", layer_digest.split(":")[1]))


def test_hostile_dotdot_layer(cove, registry_plain, test_tmp):
    raw = RawRegistry(registry_plain)
    evil = make_layer([
        ("ok", "file", {"data": b"fine"}),
        ("../../../../../../../tmp/cove-escape-" + uuid.uuid4().hex, "file",
         {"data": b"escaped"}),
    ])
    img = Image([evil])
    raw.push_image("cove/evil", "v1", img)
    p = cove.fail("pull", NOVERIFY, f"{registry_plain.host}/cove/evil:v1")
    assert ".." in p.stderr
    assert cove.ids() == []
    assert not [f for f in os.listdir("/tmp") if f.startswith(
        "cove-escape-")]


def test_pull_errors_are_clear(cove, registry_plain):
    host = registry_plain.host
    p = cove.fail("pull", NOVERIFY, f"{host}/cove/absent:v1")
    assert "cove/absent" in p.stderr
    p = cove.fail("pull", NOVERIFY, "Invalid/Ref")
    assert "invalid image reference" in p.stderr
    # plain HTTP needs --tls-verify=false (or an insecure registries.conf)
    p = cove.fail("pull", f"{host}/cove/absent:v1")
    assert "tls" in p.stderr.lower() or "ssl" in p.stderr.lower()


def test_registries_conf_insecure_and_blocked(cove, registry_plain, test_tmp):
    """registries.conf decides as it does for podman: an insecure registry
    needs no --tls-verify=false, a blocked one is refused."""
    name = cove.load_busybox()
    host = registry_plain.host
    conf = os.path.join(test_tmp, "registries.conf")
    env = dict(os.environ, CONTAINERS_REGISTRIES_CONF=conf)
    with open(conf, "w") as f:
        f.write(f'[[registry]]\nlocation = "{host}"\ninsecure = true\n\n'
                f'[[registry]]\nlocation = "{host}/blocked"\n'
                f'blocked = true\n')
    cove.run("push", name, f"{host}/cove/conf:1", env=env)
    cove.run("rmi", name)
    cove.run("pull", f"{host}/cove/conf:1", env=env)
    # verification asked for explicitly wins over the file
    p = cove.fail("pull", "--tls-verify=true", f"{host}/cove/conf:1",
                  env=env)
    assert "tls" in p.stderr.lower() or "ssl" in p.stderr.lower()
    p = cove.fail("pull", f"{host}/blocked/x:1", env=env)
    assert "blocked" in p.stderr
