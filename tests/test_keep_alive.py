"""No idle 502s: Letta keeps idle connections open longer than the load balancer does, both figures from one
constant, and the rehearsal's front keeps connections alive the way the ALB does.

An ALB reuses an idle connection to a target until its own idle timeout; a target that closes it sooner (uvicorn's
default, 5 s) races the ALB's next request on it, and the client gets a 502. The template tests read both figures
from the synthesized templates. The front tests run the front with a stand-in for Letta (uvicorn with the task's
keep-alive, tests/support/keep_alive_backend.py), send two requests on one client connection 10 s apart, and
require the second to succeed on the same connections; a front with uvicorn's default keep-alive must fail the
same check, so the check can fail.
"""

from __future__ import annotations

import contextlib
import http.client
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.rehearsal.letta_install import ensure_letta_venv
from scripts.rehearsal.processes import free_port
from stacks import letta_contract as contract
from tests.cdk_app import ROOT, only, profile_context, synthesized

PAUSE = 10.0  # seconds between the two requests: more than uvicorn's default keep-alive (5 s)


def _environment(template: dict) -> dict[str, str]:
    task = only(template, "AWS::ECS::TaskDefinition")
    return {e["Name"]: e["Value"] for e in task["Properties"]["ContainerDefinitions"][0]["Environment"]}


def _idle_timeout(template: dict) -> int:
    balancer = only(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    attributes = {a["Key"]: a["Value"] for a in balancer["Properties"]["LoadBalancerAttributes"]}
    return int(attributes["idle_timeout.timeout_seconds"])


@pytest.mark.synth
@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_letta_keeps_connections_longer_than_the_load_balancer(profile: str) -> None:
    templates = synthesized(**profile_context(profile)).templates()
    (service,) = [t for name, t in templates.items() if name.endswith("-service")]
    (data,) = [t for name, t in templates.items() if name.endswith("-data")]  # the load balancer's stack
    keep_alive, idle = int(_environment(service)[contract.KEEP_ALIVE]), _idle_timeout(data)
    assert keep_alive > idle, f"Letta closes idle connections after {keep_alive} s, the ALB reuses them for {idle} s"
    # Both from the one constant: changing the idle timeout moves the keep-alive with it.
    assert (idle, keep_alive) == (contract.LOAD_BALANCER_IDLE_TIMEOUT_SECONDS, contract.KEEP_ALIVE_SECONDS)


def _wait_port(port: int, process: subprocess.Popen, deadline: float = 60.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        assert process.poll() is None, f"exited with {process.returncode}"
        probe = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            probe.request("GET", "/")
            probe.getresponse().read()
            return
        except OSError:
            pass
        finally:
            probe.close()
        time.sleep(0.2)
    raise AssertionError(f"nothing answered on {port} within {deadline} s")


@contextlib.contextmanager
def _running(command: list[str], port: int, log: Path) -> Iterator[None]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_port(port, process)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def fronts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    """One stand-in Letta with the task's keep-alive, and two fronts before it: the ALB's idle timeout (what the
    rehearsal runs) and uvicorn's default of 5 s (what a front or target without the setting does)."""
    python = str(ensure_letta_venv().python)
    logs = tmp_path_factory.mktemp("keep-alive")
    backend, alb_like, default = free_port(), free_port(), free_port()
    uvicorn = [python, "-m", "uvicorn", "tests.support.keep_alive_backend:app", "--host", "127.0.0.1"]
    uvicorn += ["--port", str(backend), "--timeout-keep-alive", str(contract.KEEP_ALIVE_SECONDS)]
    front = [python, "-m", "scripts.rehearsal.front"]
    with contextlib.ExitStack() as stack:
        stack.enter_context(_running(uvicorn, backend, logs / "backend.log"))
        for port, extra in ((alb_like, []), (default, ["--idle-timeout", "5"])):
            command = [*front, "--port", str(port), *extra, f"http://127.0.0.1:{backend}"]
            stack.enter_context(_running(command, port, logs / f"front-{port}.log"))
        yield {"alb": alb_like, "uvicorn-default": default}


def _two_requests_apart(ports: dict[str, int]) -> dict[str, tuple[str, str | Exception]]:
    """Per front: the backend connection (its client port) of a first request, then of a second sent PAUSE seconds
    later on the same client connection (or what that second request raised)."""
    connections = {name: http.client.HTTPConnection("127.0.0.1", port, timeout=10) for name, port in ports.items()}
    first = {}
    for name, connection in connections.items():
        connection.request("GET", "/first")
        answer = connection.getresponse()
        assert answer.status == 200
        first[name] = answer.read().decode()
    time.sleep(PAUSE)
    results: dict[str, tuple[str, str | Exception]] = {}
    for name, connection in connections.items():
        try:
            connection.request("GET", "/second")
            answer = connection.getresponse()
            results[name] = (first[name], f"{answer.status} {answer.read().decode()}")
        except (http.client.HTTPException, OSError) as error:
            results[name] = (first[name], error)
        connection.close()
    return results


@pytest.mark.letta
def test_a_second_request_after_ten_idle_seconds_reuses_both_connections(fronts: dict[str, int]) -> None:
    results = _two_requests_apart(fronts)
    first, second = results["alb"]
    # The client's connection to the front stayed open, and so did the front's to the instance: one backend port.
    assert second == f"200 {first}", f"second request through the ALB-like front: {second!r}"
    # The check can fail: a front that closes idle connections after uvicorn's default 5 s drops the client's.
    _, dropped = results["uvicorn-default"]
    assert isinstance(dropped, (http.client.RemoteDisconnected, ConnectionError)), dropped
