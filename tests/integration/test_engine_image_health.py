"""An image's HEALTHCHECK (docker's config.Healthcheck) applies to its
containers, as podman and docker apply it: --health-cmd replaces it,
--no-healthcheck turns it off, and a malformed one (the image comes from a
stranger) is ignored rather than breaking the run."""

import json

import pytest

from imagelib import Image, write_oci_archive
from test_image_rootless import _busybox_layer

NAME = "localhost/health-image"


def _load(engine, tmp, healthcheck, name=NAME):
    img = Image([_busybox_layer()], config_extra={"config": {
        "Cmd": ["sleep", "300"],
        "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
        "Healthcheck": healthcheck,
    }})
    path = str(tmp / "health.tar")
    write_oci_archive(path, [img], name=name)
    engine.run("load", "-i", path)


GOOD = {"Test": ["CMD-SHELL", "test -e /tmp/ok"], "Interval": 3600 * 10**9,
        "Timeout": 5 * 10**9, "Retries": 1}


def test_image_healthcheck_applies(engine, tmp_path):
    _load(engine, tmp_path, GOOD)
    engine.run_d("--name", "h", NAME)
    hc = engine.inspect("h")["Config"]["Healthcheck"]
    assert hc["Test"] == GOOD["Test"] and hc["Retries"] == 1
    p = engine.run("healthcheck", "run", "h", check=False)
    assert p.returncode == 1, p.stderr
    assert engine.inspect("h")["State"]["Health"]["Status"] == "unhealthy"
    engine.run("exec", "h", "touch", "/tmp/ok")
    p = engine.run("healthcheck", "run", "h", check=False)
    assert p.returncode == 0, p.stderr
    assert engine.inspect("h")["State"]["Health"]["Status"] == "healthy"


def test_health_cmd_and_no_healthcheck_override_the_image(engine, tmp_path):
    _load(engine, tmp_path, GOOD)
    engine.run_d("--name", "c", "--health-cmd", "true", NAME)
    assert engine.inspect("c")["Config"]["Healthcheck"]["Test"] == \
        ["CMD-SHELL", "true"]
    assert engine.run("healthcheck", "run", "c", check=False).returncode == 0
    engine.run_d("--name", "n", "--no-healthcheck", NAME)
    assert engine.inspect("n")["Config"]["Healthcheck"] == {"Test": ["NONE"]}
    p = engine.run("healthcheck", "run", "n", check=False)
    assert p.returncode != 0 and "no health check" in p.stderr


@pytest.mark.parametrize("bad", [
    "test -e /",                                   # not an array
    {"Test": "CMD true"},                          # Test not an array
    {"Test": ["BOGUS", "true"]},                   # unknown kind
    {"Test": ["CMD", 5]},                          # not strings
    {"Test": ["CMD-SHELL", "true"], "Interval": "1s"},  # bad type
    {"Test": ["CMD-SHELL", "true"], "Retries": -3},     # negative
])
def test_malformed_image_healthcheck_is_ignored(engine, tmp_path, bad):
    _load(engine, tmp_path, bad)
    engine.run_d("--name", "m", NAME)
    c = engine.inspect("m")
    assert c["State"]["Running"]
    assert "Test" not in (c["Config"].get("Healthcheck") or {}), \
        json.dumps(c["Config"].get("Healthcheck"))
