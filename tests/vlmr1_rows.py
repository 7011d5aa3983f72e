"""Generated VLM-R1 rows for the differential tests: completions and solutions as VLM-R1's
rewards see them, with the cases real outputs hold (fenced and bare JSON, missing, extra,
mislabelled and repeated boxes, missing labels, None answers, broken JSON, several or no
answer tags)."""

from __future__ import annotations

import json
import random

LABELS = ["dog", "cat", "Car", "person", "traffic light"]


def _box(rng: random.Random) -> list:
    x, y = rng.randint(0, 400), rng.randint(0, 400)
    box = [x, y, x + rng.randint(1, 200), y + rng.randint(1, 200)]
    return [float(v) + 0.5 for v in box] if rng.random() < 0.2 else box


def _jitter(box: list, rng: random.Random) -> list:
    return [v + rng.choice([0, 0, 1, -2, 5, 30]) for v in box]


def _fence(value: object, rng: random.Random) -> str:
    text = json.dumps(value, indent=rng.choice([None, 2]))
    return rng.choice(["```json\n{}\n```", "```json{}```", "{}", "```json\n{}\n```\n", "text ```json\n{}\n``` more"]).format(text)


def _predict(gold: list, rng: random.Random) -> object:
    pred = [dict(g) for g in gold]
    for _ in range(rng.randint(0, 3)):
        if any(not isinstance(p, dict) or "label" not in p or len(p.get("bbox_2d", ())) != 4 or not isinstance(p["label"], str) for p in pred):
            break  # a malformed item is in: keep it as it is
        op = rng.choice(["jitter", "drop", "extra", "relabel", "case", "nolabel", "dup", "swap", "bad"])
        if op == "jitter" and pred:
            i = rng.randrange(len(pred))
            pred[i] = {**pred[i], "bbox_2d": _jitter(pred[i]["bbox_2d"], rng)}
        elif op == "drop" and pred:
            pred.pop(rng.randrange(len(pred)))
        elif op == "extra":
            pred.insert(rng.randint(0, len(pred)), {"bbox_2d": _box(rng), "label": rng.choice(LABELS)})
        elif op == "relabel" and pred:
            i = rng.randrange(len(pred))
            pred[i] = {**pred[i], "label": rng.choice(LABELS)}
        elif op == "case" and pred:
            i = rng.randrange(len(pred))
            pred[i] = {**pred[i], "label": str(pred[i].get("label", "x")).upper()}
        elif op == "nolabel" and pred:
            i = rng.randrange(len(pred))
            pred[i] = {k: v for k, v in pred[i].items() if k != "label"}
        elif op == "dup" and pred:
            pred.append(dict(rng.choice(pred)))
        elif op == "swap" and pred:
            i = rng.randrange(len(pred))
            b = pred[i]["bbox_2d"]
            pred[i] = {**pred[i], "bbox_2d": [b[2], b[3], b[0], b[1]]}
        elif op == "bad":
            pred.append(rng.choice([{"bbox_2d": [1, 2, 3], "label": "dog"}, "dog", {"box": [1, 2, 3, 4]}, {"bbox_2d": [1, 2, 3, 4], "label": 7}]))
            continue
    return pred


def detection_row(rng: random.Random, method: str) -> dict:
    n = rng.choice([0, 1, 1, 2, 3, 4])
    gold = [{"bbox_2d": _box(rng), "label": rng.choice(LABELS)} for _ in range(n)]
    negative = n == 0 and rng.random() < 0.6
    solution = "None" if negative else _fence(gold, random.Random(rng.random()) if rng.random() < 0.3 else random.Random(0))
    kind = rng.random()
    if kind < 0.08:
        body = "None"
    elif kind < 0.14:
        body = _fence(_predict(gold, rng), rng)[: rng.randint(5, 40)]  # broken JSON
    elif kind < 0.18:
        body = rng.choice(["", "I cannot see it.", "none", "[]"])
    else:
        body = _fence(_predict(gold, rng), rng)
    tags = rng.random()
    if tags < 0.8:
        completion = f"<think>looking</think><answer>{body}</answer>"
    elif tags < 0.88:
        completion = body
    elif tags < 0.94:
        completion = f"<think>maybe <answer>None</answer></think>\n<answer>{body}</answer>"
    else:
        completion = f"<think>x</think><answer>{body}"
    return {"completion": completion, "solution": solution, "accu_reward_method": method}


def mcq_row(rng: random.Random) -> dict:
    gold = rng.choice("ABCDE")
    solution = rng.choice([gold, f"({gold})", f"{gold}. the red one", f"<answer>{gold}</answer>", "the red one"])
    answer = rng.choice([gold, rng.choice("ABCDE"), f"The answer is {rng.choice('ABCDE')}.", f"{gold}, {rng.choice('ABCDE')}",
                         "none", f"I think ({gold})", "A. B. C.", f"答案是{gold}。", ""])
    completion = rng.choice([f"<think>t</think><answer>{answer}</answer>", answer, f"<answer>\n{answer}\n</answer>"])
    return {"completion": completion, "solution": solution, "accu_reward_method": "mcq"}


def yes_no_row(rng: random.Random) -> dict:
    solution = rng.choice(["Yes", "no", "No.", "<answer>yes</answer>", "maybe"])
    answer = rng.choice(["yes", "No", "I know", "not sure", "Yes.", "nothing", "", "YES, no"])
    completion = rng.choice([f"<think>t</think><answer>{answer}</answer>", answer])
    return {"completion": completion, "solution": solution, "accu_reward_method": "yes_no"}


def all_match_row(rng: random.Random) -> dict:
    words = ["Stop", "sign", "red car", "a dog.", "2", "line\nbreak", "tab\tend", "  spaced  "]
    solution = rng.choice(words)
    answer = rng.choice([solution, solution.upper(), solution + ".", solution + "\n", rng.choice(words), solution + " \n x"])
    completion = rng.choice([f"<think>t</think><answer>{answer}</answer>", answer, f"<answer>a</answer><answer>{answer}</answer>"])
    return {"completion": completion, "solution": solution, "accu_reward_method": "all_match"}


def default_row(rng: random.Random) -> dict:
    solution = rng.choice(["3", "\\frac{1}{2}", "0.5", "B", "the cat", "12 apples", "x^2"])
    answer = rng.choice(["3", "3.0", "1/2", "0.5", "B", "(B)", "the cat", "a cat", "12", "x^2", "x**2", "none"])
    completion = rng.choice([f"<think>t</think><answer>{answer}</answer>", answer])
    return {"completion": completion, "solution": solution, "accu_reward_method": rng.choice(["default", "unknown_method"])}


def vlmr1_solution(solution: str) -> str:
    """VLM-R1's ``sol`` for a dataset answer (grpo_jsonl.py's loader and make_conversation)."""
    return "<answer> " + solution.replace("<answer>", "").replace("</answer>", "").strip() + " </answer>"
