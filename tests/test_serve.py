"""`vlmr1 serve` as a user runs it: a real subprocess on a free 127.0.0.1 port, real HTTP.

Expected values are worked out by hand from the rows (a right or wrong math answer,
tags present or not), never read back from the engine."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from click.testing import CliRunner
from serve_tools import Server
from trainer_cases import RIGHT, WRONG

pytest.importorskip("uvicorn")

CONFIG = """\
task: math
rewards:
  - {name: format, weight: 0.5}
  - {name: accuracy, reward: math, weight: 1.0, tasks: [math]}
  - {name: slow, reward: faulty, weight: 0.0, tasks: [fault], params: {sleep: 1.5}}
engine: {workers: 2, timeout: 3}
"""
TIMEOUT = 3.0


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    path = tmp_path_factory.mktemp("serve") / "rewards.yaml"
    path.write_text(CONFIG)
    return path


@pytest.fixture(scope="module")
def server(config):
    with Server(config, "--max-rows", "100", "--max-body-mb", "0.05", "--batch-wait-ms", "20", faults=True) as srv:
        yield srv


def post(server, path, body, **kw):
    return httpx.post(server.url + path, json=body, timeout=60, **kw)


def test_score_returns_columns_total_and_reasons_in_order(server):
    rows = [{"completion": RIGHT, "solution": "4"},
            {"completion": WRONG, "solution": "4"},
            {"completion": "<think>half</think><answer>\\frac{1}{2}</answer>", "solution": "0.5"},
            {"completion": "abc", "solution": "x", "task": "fault"}]
    r = post(server, "/score", {"rows": rows})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rewards"]["format"] == [1.0, 1.0, 1.0, None]  # no template for task "fault": does not apply
    assert body["rewards"]["accuracy"] == [1.0, 0.0, 1.0, None]
    assert body["rewards"]["slow"] == [None, None, None, 0.0]  # len("abc") % 3 / 2
    assert body["total"] == [1.5, 0.5, 1.5, None]  # the weight-0 column makes no total
    assert body["reasons"]["accuracy"][1] == "wrong" and body["reasons"]["slow"][0] == "not_applicable"
    assert body["weights"] == {"format": 0.5, "accuracy": 1.0, "slow": 0.0}
    assert body["metrics"]["rewards/accuracy/none"] == 1.0


def test_get_reward_speaks_openrlhf(server):
    prompt = "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
    body = {
        "query": [prompt + RIGHT + "<|im_end|>", prompt + WRONG + "<|endoftext|>",
                  prompt + RIGHT, "Q" + "abc", prompt + "<think>x</think><answer>0.5</answer>"],
        "prompts": [prompt, prompt, prompt, "Q", prompt],
        "labels": ["4", "<answer>4</answer>", json.dumps({"solution": "5", "task": "math"}),
                   json.dumps({"solution": "x", "task": "fault"}), json.dumps({"solution": "\\frac{1}{2}"})],
    }
    r = post(server, "/get_reward", body)
    assert r.status_code == 200, r.text
    got = r.json()
    # right (1.5), wrong (0.5), right text against the label's other solution (0.5), a row only the
    # weight-0 reward applies to (no total: the --na-reward 0.0), 0.5 == 1/2 (1.5)
    assert got["rewards"] == [1.5, 0.5, 0.5, 0.0, 1.5]
    assert got["scores"] == got["rewards"]
    assert got["extra_logs"]["accuracy"] == [1.0, 0.0, 0.0, 0.0, 1.0]
    assert got["extra_logs"]["slow"] == [0.0, 0.0, 0.0, 0.0, 0.0]
    assert all(isinstance(v, float) for col in got["extra_logs"].values() for v in col)


def test_concurrent_requests_each_get_their_own_rows_and_are_batched(server):
    def metric(text, name):
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + " "))

    before = metric(httpx.get(server.url + "/metrics").text, "vlmr1_engine_batch_rows_count")

    def one(k):
        rows = [{"completion": RIGHT if (k + j) % 2 else WRONG, "solution": "4", "id": f"{k}-{j}"} for j in range(6)]
        r = post(server, "/score", {"rows": rows})
        assert r.status_code == 200, r.text
        return k, r.json()["total"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(16)))
    for k, total in results:
        assert total == [1.5 if (k + j) % 2 else 0.5 for j in range(6)]
    batches = metric(httpx.get(server.url + "/metrics").text, "vlmr1_engine_batch_rows_count") - before
    # through real HTTP: some of the 16 concurrent requests shared an engine batch (the metric
    # counted them all). How the batcher groups them, exactly: tests/test_serve_batcher.py
    assert 0 < batches < 16


def test_a_hanging_item_does_not_hold_up_other_requests(server):
    hung = {}

    def hanging():
        t = time.monotonic()
        r = post(server, "/score", {"rows": [{"completion": "hang", "solution": "x", "task": "fault"},
                                             {"completion": RIGHT, "solution": "4"}]})
        hung.update(body=r.json(), seconds=time.monotonic() - t)

    thread = threading.Thread(target=hanging)
    thread.start()
    time.sleep(0.3)  # the hanging request is in an engine batch now
    latencies = []
    for _ in range(5):
        t = time.monotonic()
        r = post(server, "/score", {"rows": [{"completion": RIGHT, "solution": "4"}] * 8})
        latencies.append(time.monotonic() - t)
        assert r.json()["total"] == [1.5] * 8
    thread.join(60)
    assert hung["body"]["reasons"]["slow"][0] == "timeout" and hung["body"]["rewards"]["slow"][0] is None
    assert hung["body"]["total"][1] == 1.5  # its other row was scored
    assert hung["seconds"] >= TIMEOUT
    assert sum(latencies) < TIMEOUT, latencies  # five requests done while the hung item waited out its timeout
    text = httpx.get(server.url + "/metrics").text
    assert 'vlmr1_reward_timeouts_total{reward="slow"} 1.0' in text


def test_limits_and_bad_input_get_clear_4xx(server):
    r = post(server, "/score", {"rows": [{"completion": "x", "solution": "1"}] * 101})
    assert r.status_code == 413 and "at most 100" in r.json()["error"] and "--max-rows" in r.json()["error"]
    r = post(server, "/get_reward", {"query": ["x"] * 101, "prompts": [""] * 101, "labels": ["1"] * 101})
    assert r.status_code == 413
    big = {"rows": [{"completion": "y" * 60_000, "solution": "1"}]}
    r = post(server, "/score", big)
    assert r.status_code == 413 and "--max-body-mb" in r.json()["error"]
    r = httpx.post(server.url + "/score", content=b"{not json", timeout=30)
    assert r.status_code == 400 and "not JSON" in r.json()["error"]
    r = post(server, "/score", [{"completion": "x"}])
    assert r.status_code == 422 and '"rows"' in r.json()["error"]
    r = post(server, "/get_reward", {"query": ["a", "b"], "labels": ["1"]})
    assert r.status_code == 422 and "labels" in r.json()["error"]
    # a row that cannot be scored costs that row only, with its reason
    r = post(server, "/score", {"rows": [{"solution": "4"}, {"completion": RIGHT, "solution": "4", "image_size": [0, 5]},
                                         {"completion": RIGHT, "solution": "4"}]})
    body = r.json()
    assert r.status_code == 200 and body["total"] == [None, None, 1.5]
    assert body["reasons"]["accuracy"][0].startswith("bad_row: ") and "completion" in body["reasons"]["accuracy"][0]
    assert "image_size" in body["reasons"]["format"][1]
    assert httpx.get(server.url + "/score").status_code == 405


def test_health_and_metrics(server):
    h = httpx.get(server.url + "/health").json()
    assert h["status"] == "ok" and h["rewards"] == ["format", "accuracy", "slow"] and "math" in h["tasks"]
    text = httpx.get(server.url + "/metrics").text
    for name in ("vlmr1_reward_latency_seconds_bucket", "vlmr1_reward_none_total", "vlmr1_reward_errors_total",
                 "vlmr1_reward_timeouts_total", "vlmr1_queue_rows", "vlmr1_engine_batches_inflight",
                 "vlmr1_requests_total"):
        assert name in text, name
    assert 'vlmr1_requests_total{endpoint="score",status="413"}' in text or "status=\"200\"" in text


def _listening_addresses(port):
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, p = local.rsplit(":", 1)
            if int(p, 16) == port and state == "0A":  # LISTEN
                out.append(addr)
    return out


def test_binds_loopback_by_default_and_token_guards_everything_but_health(config):
    token = "s3cret-token"
    with Server(config, faults=True, env={"VLMR1_SERVE_TOKEN": token}) as srv:
        assert _listening_addresses(srv.port) == ["0100007F"]  # 127.0.0.1 only
        row = {"rows": [{"completion": RIGHT, "solution": "4"}]}
        assert httpx.get(srv.url + "/health").status_code == 200
        assert post(srv, "/score", row).status_code == 401
        r = post(srv, "/score", row, headers={"Authorization": "Bearer wrong-token!"})
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert post(srv, "/score", row, headers={"Authorization": "Basic " + token}).status_code == 401
        assert httpx.get(srv.url + "/metrics").status_code == 401
        r = post(srv, "/score", row, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json()["total"] == [1.5]
        assert httpx.get(srv.url + "/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_sigterm_finishes_in_flight_requests_then_exits(config):
    srv = Server(config, faults=True)
    try:
        got = {}

        def slow():
            got["r"] = post(srv, "/score", {"rows": [{"completion": "sleep", "solution": "x", "task": "fault"},
                                                     {"completion": RIGHT, "solution": "4"}]})

        thread = threading.Thread(target=slow)
        thread.start()
        time.sleep(0.5)  # the 1.5 s item is running
        t = time.monotonic()
        code = srv.stop(timeout=20)
        stopped = time.monotonic() - t
        thread.join(10)
        assert got["r"].status_code == 200
        assert got["r"].json()["rewards"]["slow"][0] == 1.0 and got["r"].json()["total"][1] == 1.5  # len("sleep") % 3 / 2
        # uvicorn re-raises the SIGTERM it caught once it has drained: a supervisor sees a terminated process
        assert code in (0, -15) and stopped < 8, (code, stopped, srv.output())
        with pytest.raises(httpx.TransportError):
            httpx.get(srv.url + "/health", timeout=2)
        assert "vlmr1 serve: stopped" in srv.output()
    finally:
        srv.kill()
        srv.log.close()


def test_unknown_reward_is_a_clear_error_before_the_port_opens(tmp_path):
    import subprocess
    import sys

    cfg = tmp_path / "bad.yaml"
    cfg.write_text("rewards:\n  - {name: acuracy, reward: mathh}\n")
    out = subprocess.run([sys.executable, "-m", "vlmr1.cli", "serve", "--config", str(cfg), "--port", "1"],
                         capture_output=True, text=True, timeout=120, env={**__import__("os").environ, "VLMR1_PLUGINS": ""})
    assert out.returncode == 2 and "Unknown reward 'mathh'" in out.stderr and "Traceback" not in out.stderr


def test_missing_web_stack_names_the_extra(monkeypatch, config):
    from vlmr1.cli import main
    from vlmr1.plugins.serve import command

    monkeypatch.setattr(command, "missing_stack", lambda: ["uvicorn"])
    result = CliRunner().invoke(main, ["serve", "--config", str(config)])
    assert result.exit_code != 0
    assert "pip install 'vlmr1[serve]'" in result.output and "uvicorn" in result.output


def test_serve_is_listed_by_plugins_and_cli_stays_light():
    import subprocess
    import sys

    code = ("import sys; from vlmr1.cli import main\n"
            "try:\n    main(['plugins', '--json'])\nexcept SystemExit:\n    pass\n"
            "bad = [m for m in ('torch', 'starlette', 'uvicorn', 'prometheus_client') if m in sys.modules]\n"
            "print('LOADED', bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "VLMR1_PLUGINS": ""})
    assert "LOADED []" in out.stdout, out.stdout[-2000:] + out.stderr[-2000:]
    plugins = json.loads(out.stdout[: out.stdout.rindex("LOADED")])
    serve = next(p for p in plugins if p["name"] == "serve")
    assert serve["ok"] and serve["registered"] == {"command": ["serve"]}
