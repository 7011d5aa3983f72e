"""``vlmr1.remote`` against real services on 127.0.0.1: a `vlmr1 serve` subprocess for scoring
(TRL reward functions, verl compute_score, 2 GRPO steps of a tiny model), and small flaky
servers for the retry rules."""

from __future__ import annotations

import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from serve_tools import Server, free_port
from vlmr1 import remote

pytest.importorskip("uvicorn")

CONFIG = """\
task: math
rewards:
  - {name: format, weight: 0.5}
  - {name: accuracy, reward: math, weight: 1.0, tasks: [math]}
  - {name: box, reward: iou, weight: 1.0, tasks: [rec]}
engine: {workers: 1, timeout: 5}
"""
RIGHT = "<think>2 and 2</think><answer>4</answer>"
WRONG = "<think>2 and 2</think><answer>5</answer>"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    path = tmp_path_factory.mktemp("remote") / "rewards.yaml"
    path.write_text(CONFIG)
    with Server(path) as srv:
        yield srv


def test_trl_functions_through_real_calculate_rewards(server):
    pytest.importorskip("trl")
    from test_trl_rewards import FakeTrainer
    from trl.trainer.utils import is_async_callable

    funcs, weights = remote.trl_reward_functions(server.url)
    assert [f.__name__ for f in funcs] == ["format", "accuracy", "box"] and weights == [0.5, 1.0, 1.0]
    assert all(is_async_callable(f) for f in funcs)
    inputs = [{"prompt": [{"role": "user", "content": "2+2?"}], "solution": "4"},
              {"prompt": [{"role": "user", "content": "2+2?"}], "solution": "4"},
              {"prompt": [{"role": "user", "content": "where?"}], "solution": [10, 10, 50, 50], "task": "rec",
               "image_size": [100, 100]}]
    for row in inputs[:2]:
        row.update(task="math", image_size=None)
    completions = [[{"role": "assistant", "content": c}]
                   for c in (RIGHT, WRONG, '<think>t</think><answer>{"bbox_2d": [10, 10, 50, 30]}</answer>')]
    trainer = FakeTrainer(funcs)
    try:
        per_func = trainer.calculate(inputs, [i["prompt"] for i in inputs], completions).tolist()
    finally:
        trainer.close()
    assert per_func[0][:2] == [1.0, 1.0] and math.isnan(per_func[0][2])  # TRL turns None into NaN
    assert per_func[1][:2] == [1.0, 0.0] and math.isnan(per_func[1][2])
    assert per_func[2][0] == 1.0 and math.isnan(per_func[2][1]) and per_func[2][2] == pytest.approx(0.5)  # half the box
    assert trainer._pending_metrics["rewards/accuracy/none"] == [1.0]
    assert trainer._pending_extra_logs["reason/accuracy"] == ["ok", "wrong", "not_applicable"]
    assert len(trainer._pending_metrics["engine/items_per_s"]) == 1  # one request served all three columns


def test_verl_compute_score_single_and_batch(server):
    one = remote.compute_score("openai/gsm8k", RIGHT, "4", {}, url=server.url)
    assert one["score"] == 1.5 and one["box"] is None and one["accuracy"] == 1.0
    many = remote.compute_score(url=server.url, data_sources=["x", "vlmr1/rec"], solution_strs=[WRONG, RIGHT],
                                ground_truths=["4", "[10, 10, 50, 50]"], extra_infos=[{}, {"image_size": [100, 100]}])
    # the rec row answers "4": not the rec template's box format, no box to compare
    assert [m["score"] for m in many] == [0.5, 0.0]
    assert many[1]["format"] == 0.0 and many[1]["box"] == 0.0 and many[1]["accuracy"] is None
    import asyncio

    got = asyncio.run(remote.compute_score_async("x", RIGHT, "<answer>4</answer>", None, url=server.url))
    assert got["score"] == 1.5


class _Flaky(BaseHTTPRequestHandler):
    answers: list[int] = []
    calls = 0

    def _reply(self):
        type(self).calls += 1
        status = self.answers.pop(0) if self.answers else 200
        body = (b'{"error": "try later"}' if status != 200 else
                b'{"rewards": {"r": [1.0]}, "reasons": {"r": ["ok"]}, "total": [1.0], "metrics": {}}')
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET = _reply

    def log_message(self, *args):
        pass


@pytest.fixture()
def flaky():
    _Flaky.answers, _Flaky.calls = [], 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_retries_5xx_with_backoff_then_succeeds(flaky):
    _Flaky.answers = [503, 502]
    client = remote.RewardClient(flaky, policy=remote.RetryPolicy(backoff=0.05, retries=4, deadline=10))
    result = client.score([{"completion": "x", "solution": "1"}])
    assert result.total == [1.0] and _Flaky.calls == 3


def test_client_errors_are_not_retried(flaky):
    _Flaky.answers = [422]
    client = remote.RewardClient(flaky, policy=remote.RetryPolicy(backoff=0.05))
    with pytest.raises(remote.RemoteRewardError, match="HTTP 422.*try later"):
        client.score([{"completion": "x"}])
    assert _Flaky.calls == 1


def test_a_service_that_stays_away_fails_by_the_deadline():
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    client = remote.RewardClient(url, policy=remote.RetryPolicy(backoff=0.2, retries=100, deadline=1.5, timeout=0.5))
    t = time.monotonic()
    with pytest.raises(remote.RemoteRewardError, match="did not answer /score after .* attempts.*vlmr1 serve"):
        client.score([{"completion": "x"}])
    assert time.monotonic() - t < 3.0


def test_no_url_is_a_clear_error(monkeypatch):
    monkeypatch.delenv(remote.URL_ENV, raising=False)
    with pytest.raises(remote.RemoteRewardError, match="VLMR1_SERVE_URL"):
        remote.RewardClient()


@pytest.mark.slow
def test_two_grpo_steps_with_rewards_from_a_separate_service(server, tmp_path):
    """TRL's GRPOTrainer trains a tiny Qwen2 (built offline) for 2 steps; every reward comes
    from the `vlmr1 serve` process over HTTP."""
    pytest.importorskip("trl")
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer
    from vlmr1.trainers import tiny

    model, tokenizer = tiny.build("qwen2", seed=3)
    rows = [{"prompt": [{"role": "user", "content": f"What is {i} + {i}?"}], "solution": str(2 * i), "task": "math"}
            for i in range(4)]
    funcs, weights = remote.trl_reward_functions(server.url)
    import httpx

    def scored():
        text = httpx.get(server.url + "/metrics").text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith('vlmr1_reward_items_total{reward="accuracy"}'))

    seen = scored()
    args = GRPOConfig(output_dir=str(tmp_path / "out"), max_steps=2, per_device_train_batch_size=4, num_generations=2,
                      max_completion_length=8, learning_rate=1e-4, logging_steps=1, report_to=[], save_strategy="no",
                      reward_weights=weights, use_cpu=True, bf16=False, seed=3)
    trainer = GRPOTrainer(model=model, reward_funcs=funcs, args=args, train_dataset=Dataset.from_list(rows),
                          processing_class=tokenizer)
    trainer.train()
    logs = [entry for entry in trainer.state.log_history if "rewards/accuracy/mean" in entry or "reward" in entry]
    assert trainer.state.global_step == 2
    assert any("rewards/format/mean" in entry for entry in logs), trainer.state.log_history
    assert scored() - seen >= 8  # 2 steps x 4 completions went through the service
