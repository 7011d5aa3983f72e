"""Faithful re-implementations of VLM-R1's reward functions, for differential tests.

Written from reading om-ai-lab/VLM-R1 ``src/open-r1-multimodal/src/open_r1/grpo_jsonl.py``
(``accuracy_reward`` and what it calls, ``format_reward``, ``cosine_reward``,
``repetition_reward``): same regexes, same order of operations, same exceptions. COCO
evaluation goes through pycocotools, which VLM-R1 ships a copy of (its copy only
silences the prints and accepts a dict). Levenshtein's ``ratio`` is the one VLM-R1 imports.
Nothing here is used by vlmr1 itself.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re


def extract_choice(text):
    text = text.upper()
    text = re.sub(r"\s+", " ", text)
    choices = re.findall(r"(?<![A-Z])([A-Z])(?=[\.\,\?\!\:\;]|$)", text)
    if not choices:
        return None
    if len(choices) == 1:
        return choices[0]
    choice_scores = {choice: 0 for choice in choices}
    keywords = ["答案", "选择", "正确", "是", "对", "answer", "correct", "choose", "select", "right",
                "认为", "应该", "觉得", "think", "believe", "should"]
    for choice in choices:
        pos = text.find(choice)
        context = text[max(0, pos - 20):min(len(text), pos + 20)]
        for keyword in keywords:
            if keyword.upper() in context:
                choice_scores[choice] += 1
        if pos > len(text) * 0.7:
            choice_scores[choice] += 2
        if pos < len(text) - 1 and text[pos + 1] in "。.!！,，":
            choice_scores[choice] += 1
    return max(choice_scores.items(), key=lambda x: x[1])[0]


def mcq_reward(content, sol, **kwargs):
    sol_match = re.search(r"<answer>(.*?)</answer>", sol)
    ground_truth = sol_match.group(1).strip() if sol_match else sol.strip()
    has_choices = extract_choice(ground_truth)
    correct_choice = has_choices.upper() if has_choices else sol.strip()
    content_match = re.search(r"<answer>(.*?)</answer>", content, re.DOTALL)
    student_answer = content_match.group(1).strip() if content_match else content.strip()
    student_choice = extract_choice(student_answer)
    if student_choice:
        reward = 1.0 if student_choice == correct_choice else 0.0
    else:
        reward = 0.0
    return reward


def yes_no_reward(content, sol, **kwargs):
    content = content.lower()
    sol = sol.lower()
    sol_match = re.search(r"<answer>(.*?)</answer>", sol)
    ground_truth = sol_match.group(1).strip() if sol_match else sol.strip()
    content_match = re.search(r"<answer>(.*?)</answer>", content, re.DOTALL)
    student_answer = content_match.group(1).strip() if content_match else content.strip()
    ground_yes_no = re.search(r"(yes|no)", ground_truth)
    ground_yes_no = ground_yes_no.group(1) if ground_yes_no else ""
    student_yes_no = re.search(r"(yes|no)", student_answer)
    student_yes_no = student_yes_no.group(1) if student_yes_no else ""
    return 1.0 if ground_yes_no == student_yes_no else 0.0


def calculate_map(pred_bbox_list, gt_bbox_list, score_type=0):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt_json = {"annotations": [], "images": [], "categories": []}
    gt_json["images"] = [{"id": 0, "width": 2048, "height": 2048, "file_name": "image_0.jpg"}]
    gt_json["categories"] = []
    cats2id = {}
    cat_count = 0
    for idx, gt_bbox in enumerate(gt_bbox_list):
        if gt_bbox["label"] not in cats2id:
            cats2id[gt_bbox["label"]] = cat_count
            gt_json["categories"].append({"id": cat_count, "name": gt_bbox["label"]})
            cat_count += 1
        gt_json["annotations"].append({
            "id": idx + 1, "image_id": 0, "category_id": cats2id[gt_bbox["label"]],
            "bbox": [gt_bbox["bbox_2d"][0], gt_bbox["bbox_2d"][1], gt_bbox["bbox_2d"][2] - gt_bbox["bbox_2d"][0], gt_bbox["bbox_2d"][3] - gt_bbox["bbox_2d"][1]],
            "area": (gt_bbox["bbox_2d"][2] - gt_bbox["bbox_2d"][0]) * (gt_bbox["bbox_2d"][3] - gt_bbox["bbox_2d"][1]),
            "iscrowd": 0,
        })
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt_json
        coco_gt.createIndex()
    dt_json = []
    for idx, pred_bbox in enumerate(pred_bbox_list):
        try:
            dt_json.append({
                "image_id": 0, "category_id": cats2id[pred_bbox["label"]],
                "bbox": [pred_bbox["bbox_2d"][0], pred_bbox["bbox_2d"][1], pred_bbox["bbox_2d"][2] - pred_bbox["bbox_2d"][0], pred_bbox["bbox_2d"][3] - pred_bbox["bbox_2d"][1]],
                "score": 1.0,
                "area": (pred_bbox["bbox_2d"][2] - pred_bbox["bbox_2d"][0]) * (pred_bbox["bbox_2d"][3] - pred_bbox["bbox_2d"][1]),
            })
        except:  # noqa: E722 - as VLM-R1
            pass
    if len(dt_json) == 0:
        return 0.0
    with contextlib.redirect_stdout(io.StringIO()):
        coco_dt = coco_gt.loadRes(dt_json)
        coco_eval = COCOeval(coco_gt, coco_dt, "bbox")
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    return coco_eval.stats[score_type]


def map_reward(content, sol, length_reward=False, score_type=0, **kwargs):
    pattern = r"```json(.*?)```"
    json_match = re.findall(pattern, sol, re.DOTALL)
    bbox_json = json_match[-1].strip() if json_match else None
    gt_bbox_list = []
    if bbox_json:
        bbox_data = json.loads(bbox_json)
        gt_bbox_list = [item for item in bbox_data]
    pred_bbox_list = []
    json_match = re.findall(pattern, content, re.DOTALL)
    if json_match:
        try:
            bbox_data = json.loads(json_match[-1].strip())
            pred_bbox_list = [item for item in bbox_data]
        except:  # noqa: E722
            pred_bbox_list = []
    if len(pred_bbox_list) > 0 and len(gt_bbox_list) > 0:
        bbox_reward = calculate_map(pred_bbox_list, gt_bbox_list, score_type=score_type)
    elif len(pred_bbox_list) == 0 and len(gt_bbox_list) == 0:
        bbox_reward = 1.0
    else:
        bbox_reward = 0.0
    if length_reward:
        gt_length = len(gt_bbox_list)
        pred_length = len(pred_bbox_list)
        length_score = 1.0 if gt_length >= pred_length else gt_length / pred_length
        return bbox_reward * length_score
    return bbox_reward


def od_reward(content, sol, score_type=0, **kwargs):
    match_pattern = r"<answer>(.*?)</answer>"
    sol_match = re.search(match_pattern, sol, re.DOTALL)
    ground_truth = sol_match.group(1).strip() if sol_match else None
    content_match = re.findall(match_pattern, content, re.DOTALL)
    student_answer = content_match[-1].strip() if content_match else None
    if student_answer is None:
        return 0.0
    elif ground_truth == "None" and student_answer == "None":
        return 1.0
    return map_reward(student_answer, ground_truth, score_type=score_type)


def odLength_reward(content, sol, **kwargs):  # noqa: N802 - VLM-R1's name
    match_pattern = r"<answer>(.*?)</answer>"
    sol_match = re.search(match_pattern, sol, re.DOTALL)
    ground_truth = sol_match.group(1).strip() if sol_match else None
    content_match = re.findall(match_pattern, content, re.DOTALL)
    student_answer = content_match[-1].strip() if content_match else None
    if student_answer is None:
        return 0.0
    elif ground_truth == "None" and student_answer == "None":
        return 1.0
    return map_reward(student_answer, ground_truth, length_reward=True, score_type=0)


def iou(box1, box2):
    inter_x1 = max(box1[0], box2[0])
    inter_y1 = max(box1[1], box2[1])
    inter_x2 = min(box1[2] - 1, box2[2] - 1)
    inter_y2 = min(box1[3] - 1, box2[3] - 1)
    if inter_x1 < inter_x2 and inter_y1 < inter_y2:
        inter = (inter_x2 - inter_x1 + 1) * (inter_y2 - inter_y1 + 1)
    else:
        inter = 0
    union = (box1[2] - box1[0]) * (box1[3] - box1[1]) + (box2[2] - box2[0]) * (box2[3] - box2[1]) - inter
    return float(inter) / union


def detection_score(content, sol, iou_threshold=0.5, alpha=0.7, beta=0.0, gamma=0.3):
    pattern = r"```json(.*?)```"
    json_match = re.search(pattern, clean_text(content), re.DOTALL)
    content_bbox_json = json_match.group(1).strip() if json_match else None
    if content_bbox_json:
        try:
            bbox_data = json.loads(content_bbox_json)
            pred_boxes = [item for item in bbox_data]
        except:  # noqa: E722
            pred_boxes = []
    else:
        pred_boxes = []
    json_match = re.search(pattern, clean_text(sol), re.DOTALL)
    sol_bbox_json = json_match.group(1).strip() if json_match else None
    if sol_bbox_json:
        bbox_data = json.loads(sol_bbox_json)
        gt_boxes = [item for item in bbox_data]
    else:
        gt_boxes = []
    if len(gt_boxes) == 0:
        return 1.0 if not pred_boxes else 0.0
    if len(pred_boxes) == 0:
        return 0.0
    matches = []
    unmatched_preds = list(range(len(pred_boxes)))
    unmatched_gts = list(range(len(gt_boxes)))
    iou_matrix = []
    for pred_idx, pred_box in enumerate(pred_boxes):
        iou_row = []
        for gt_idx, gt_box in enumerate(gt_boxes):
            try:
                curr_iou = iou(pred_box["bbox_2d"], gt_box["bbox_2d"])
            except:  # noqa: E722
                curr_iou = 0.0
            iou_row.append(curr_iou)
        iou_matrix.append(iou_row)
    while unmatched_preds and unmatched_gts:
        max_iou = -1
        max_pred_idx = -1
        max_gt_idx = -1
        for pred_idx in unmatched_preds:
            for gt_idx in unmatched_gts:
                curr_iou = iou_matrix[pred_idx][gt_idx]
                if curr_iou > max_iou:
                    max_iou = curr_iou
                    max_pred_idx = pred_idx
                    max_gt_idx = gt_idx
        if max_iou < iou_threshold:
            break
        try:
            pred_label = pred_boxes[max_pred_idx]["label"].lower()
        except:  # noqa: E722
            pred_box = ""  # noqa: F841 - VLM-R1's typo, kept
        try:
            gt_label = gt_boxes[max_gt_idx]["label"].lower()
        except:  # noqa: E722
            gt_label = ""
        label_correct = (pred_label == gt_label)  # noqa: F821 - unbound on a first unlabelled match, as in VLM-R1
        if label_correct:
            matches.append({"pred_idx": max_pred_idx, "gt_idx": max_gt_idx, "iou": max_iou, "label_correct": label_correct})
        else:
            matches.append({"pred_idx": max_pred_idx, "gt_idx": max_gt_idx, "iou": 0, "label_correct": label_correct})
        unmatched_preds.remove(max_pred_idx)
        unmatched_gts.remove(max_gt_idx)
    position_score = sum(m["iou"] for m in matches) / len(gt_boxes) if matches else 0.0
    label_score = sum(1.0 for m in matches if m["label_correct"]) / len(gt_boxes) if matches else 0.0
    miss_rate = len(unmatched_gts) / len(gt_boxes)
    false_alarm_rate = len(unmatched_preds) / len(pred_boxes) if pred_boxes else 0.0
    completeness_score = 1.0 - (miss_rate + false_alarm_rate) / 2.0
    return (alpha * position_score + beta * label_score + gamma * completeness_score) / (alpha + beta + gamma)


def clean_text(text, exclue_chars=["\n", "\r"]):  # noqa: B006 - as VLM-R1
    answer_matches = re.findall(r"<answer>(.*?)</answer>", text, re.DOTALL)
    if answer_matches:
        text = answer_matches[-1]
    for char in exclue_chars:
        if char in ["\n", "\r"]:
            text = re.sub(r"(?<=\s)" + re.escape(char), "", text)
            text = re.sub(r"(?<!\s)" + re.escape(char), " ", text)
        else:
            text = text.replace(char, " ")
    return text.strip().rstrip(".").lower()


def all_match_reward(content, sol, **kwargs):
    content = clean_text(content)
    sol = clean_text(sol)
    return 1.0 if content == sol else 0.0


def numeric_reward(content, sol, **kwargs):
    content = clean_text(content)
    sol = clean_text(sol)
    try:
        content, sol = float(content), float(sol)
        return 1.0 if content == sol else 0.0
    except:  # noqa: E722
        return None


def default_accuracy_reward(content, sol, **kwargs):
    from Levenshtein import ratio
    from math_verify import parse, verify

    reward = 0.0
    sol_match = re.search(r"<answer>(.*?)</answer>", sol)
    ground_truth = sol_match.group(1).strip() if sol_match else sol.strip()
    content_matches = re.findall(r"<answer>(.*?)</answer>", content, re.DOTALL)
    student_answer = content_matches[-1].strip() if content_matches else content.strip()
    try:
        answer = parse(student_answer)
        if float(verify(answer, parse(ground_truth))) > 0:
            reward = 1.0
    except Exception:
        pass
    if reward == 0.0:
        try:
            has_numbers = bool(re.search(r"\d", ground_truth))
            has_choices = extract_choice(ground_truth)
            if has_numbers:
                reward = numeric_reward(student_answer, ground_truth)
                if reward is None:
                    reward = ratio(clean_text(student_answer), clean_text(ground_truth))
            elif has_choices:
                correct_choice = has_choices.upper()
                student_choice = extract_choice(student_answer)
                if student_choice:
                    reward = 1.0 if student_choice == correct_choice else 0.0
            else:
                reward = ratio(clean_text(student_answer), clean_text(ground_truth))
        except Exception:
            pass
    return reward


def accuracy_reward(content, sol, accu_reward_method):
    """One row of VLM-R1's ``accuracy_reward`` (``llm`` and ``math`` left out: a network
    call, and VLM-R1's own MATH normaliser)."""
    if accu_reward_method == "mcq":
        return mcq_reward(content, sol)
    if accu_reward_method == "yes_no":
        return yes_no_reward(content, sol)
    if accu_reward_method == "map":
        return map_reward(content, sol)
    if accu_reward_method == "weighted_sum":
        clean_content = clean_text(content)
        sol = clean_text(sol)
        if sol == "none":
            return 1.0 if clean_content == "none" else 0.0
        return detection_score(clean_content, sol)
    if accu_reward_method == "od_ap":
        return od_reward(content, sol)
    if accu_reward_method == "od_ap50":
        return od_reward(content, sol, score_type=1)
    if accu_reward_method == "odLength":
        return odLength_reward(content, sol)
    if accu_reward_method == "all_match":
        return all_match_reward(content, sol)
    return default_accuracy_reward(content, sol)


def format_reward(content):
    pattern = r"<think>.*?</think>\s*<answer>.*?</answer>"
    return 1.0 if re.fullmatch(pattern, content, re.DOTALL) else 0.0


def cosine_reward(gen_len, acc_reward=1.0):
    """VLM-R1's ``cosine_reward`` given the token count (its ``acc_reward = 1.0`` overwrite kept)."""
    min_len_value_wrong = 0.0
    max_len_value_wrong = -0.5
    min_len_value_correct = 1.0
    max_len_value_correct = 0.5
    cosine_max_len = 1024
    acc_reward = 1.0
    is_correct = acc_reward >= 0.7
    if is_correct:
        min_value = max_len_value_correct
        max_value = min_len_value_correct
    else:
        min_value = min_len_value_wrong
        max_value = max_len_value_wrong
    return max_value - (max_value - min_value) * (1 - math.cos(gen_len * math.pi / cosine_max_len)) / 2


def repetition_reward_text(content, ngram_size=6, max_penalty=-1.0):
    """The plain-text branch of VLM-R1's ``repetition_reward`` (open-r1's n-gram penalty)."""
    if content == "":
        return 0.0
    if len(content.split()) < ngram_size:
        return 0.0
    words = content.lower().split()
    ngrams = set()
    total = 0
    for ng in zip(*[words[i:] for i in range(ngram_size)]):
        ngrams.add(ng)
        total += 1
    return (1 - len(ngrams) / total) * max_penalty
