"""`vlmr1 vote`, the judge plugin's command: Voting@k accuracy of a pairwise reward model
on labelled pairs. The logic lives in :mod:`vlmr1.plugins.judge.vote`, imported when the
command runs, so ``vlmr1 --help`` stays light."""

from __future__ import annotations

import json

import click


@click.command()
@click.option("--input", "input_path", required=True, type=click.Path(exists=True, dir_okay=False), help="JSONL of pairs (question, response1/response2 or chosen/rejected, label).")
@click.option("--output", "output_path", type=click.Path(dir_okay=False), default=None, help="Per-pair results (JSONL); default: INPUT with .votes.jsonl.")
@click.option("--k", default=5, show_default=True, type=click.IntRange(min=1), help="Verdicts sampled per pair.")
@click.option("--backend", type=click.Choice(["openai", "transformers"]), default=None, help="Default: openai when --base-url is given.")
@click.option("--base-url", default=None, help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1.")
@click.option("--model", default=None, help="Model name the server serves.")
@click.option("--api-key-env", default=None, help="Environment variable holding the API key.")
@click.option("--model-path", default=None, type=click.Path(exists=True, file_okay=False), help="Local model directory (transformers backend).")
@click.option("--temperature", default=0.7, show_default=True, type=float)
@click.option("--max-tokens", default=1024, show_default=True, type=int)
@click.option("--concurrency", default=8, show_default=True, type=int)
@click.option("--timeout-s", default=120.0, show_default=True, type=float, help="Per request.")
@click.option("--max-retries", default=2, show_default=True, type=int)
@click.option("--deadline-s", default=600.0, show_default=True, type=float, help="Per chunk of pairs; unanswered samples are invalid votes.")
@click.option("--chunk", "chunk_size", default=64, show_default=True, type=click.IntRange(min=1), help="Pairs sent per batch.")
@click.option("--order", type=click.Choice(["shuffle", "as-is"]), default="shuffle", show_default=True, help="Where chosen goes for chosen/rejected rows.")
@click.option("--tie-break", type=click.Choice(["none", "first"]), default="none", show_default=True, help="none: a tie counts as wrong.")
@click.option("--template", default="auto", show_default=True, help="Prompt template: auto (registered 'pairwise' if any, else built-in), a template name, or 'builtin'.")
@click.option("--image-root", default=None, type=click.Path(file_okay=False), help="Base for relative image paths (default: the input's folder).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def vote(input_path: str, output_path: str | None, k: int, backend: str | None, base_url: str | None, model: str | None,
         api_key_env: str | None, model_path: str | None, temperature: float, max_tokens: int, concurrency: int,
         timeout_s: float, max_retries: int, deadline_s: float, chunk_size: int, order: str, tie_break: str,
         template: str, image_root: str | None, as_json: bool) -> None:
    """Sample K verdicts per pair from a reward model, take the majority, report accuracy.

    \b
    Examples:
      vlmr1 vote --input pairs.jsonl --base-url http://127.0.0.1:8000/v1 --model rm --k 5
      vlmr1 vote --input pairs.jsonl --backend transformers --model-path ./reward-model --k 3 --json
    """
    from .vote import run_vote

    params = {"backend": backend, "base_url": base_url, "model": model, "api_key_env": api_key_env,
              "model_path": model_path, "temperature": temperature, "max_tokens": max_tokens,
              "concurrency": concurrency, "timeout_s": timeout_s, "max_retries": max_retries}
    out = output_path or (input_path[:-6] if input_path.endswith(".jsonl") else input_path) + ".votes.jsonl"

    def bad_row(line: int, why: str) -> None:
        click.echo(f"{input_path}:{line}: skipped: {why}", err=True)

    summary = run_vote(input_path, out, params, k=k, temperature=temperature, deadline_s=deadline_s,
                       chunk_size=chunk_size, order=order, tie_break=tie_break, image_root=image_root,
                       template=None if template == "builtin" else template, on_bad_row=bad_row)
    if as_json:
        click.echo(json.dumps(summary.as_dict(), indent=2))
        return

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.1f}%"

    click.echo(f"pairs {summary.pairs} (labelled {summary.labelled}, bad rows {summary.bad_rows}), prompt {summary.prompt}")
    click.echo(f"Voting@{k} accuracy {pct(summary.accuracy)} ({summary.correct}/{summary.labelled}); "
               f"single sample {pct(summary.accuracy_at_1)}; all votes {pct(summary.vote_accuracy)}")
    click.echo(f"ties {summary.ties}, invalid votes {summary.invalid_votes}, requests {summary.requests}, "
               f"{summary.seconds:.1f} s; reasons {json.dumps(summary.reasons, sort_keys=True)}")
    click.echo(f"per-pair results: {out}")
