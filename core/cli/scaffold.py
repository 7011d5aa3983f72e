"""`vlmr1 new-plugin NAME`: scaffold a plugin package (logic in vlmr1.scaffold)."""

from __future__ import annotations

import click

from ..scaffold import new_plugin as _new_plugin
from ..scaffold import registered_reward_owners


@click.command("new-plugin")
@click.argument("name")
@click.option("--dir", "directory", default=".", show_default=True, type=click.Path(file_okay=False), help="Where to create vlmr1-reward-NAME/.")
@click.option("--author", default="Your Name", show_default=True, help="Author written into pyproject.toml.")
@click.option("--description", default="", help="One line for the README, docstring and reward doc.")
def new_plugin(name: str, directory: str, author: str, description: str) -> None:
    """Create vlmr1-reward-NAME/: a verifier, a reward, a prompt template, tests, README.

    NAME becomes the reward name and the module vlmr1_reward_NAME: lowercase letters,
    digits and underscores, starting with a letter.

    \b
    Examples:
      vlmr1 new-plugin ocr_lines
      vlmr1 new-plugin ocr_lines --dir plugins/ --author "Ada Lovelace" --description "OCR line accuracy"
    """
    root, written = _new_plugin(name, directory, author=author, description=description, taken=registered_reward_owners())
    click.echo(f"Created {root}/ with {len(written)} files:")
    for path in written:
        click.echo(f"  {path.relative_to(root)}")
    click.echo(
        "\nNext:\n"
        f"  cd {root}\n"
        "  pip install -e .      # registers the entry point\n"
        "  pytest                # its tests score through the vlmr1 engine\n"
        f"  vlmr1 plugins         # lists '{name}' (if VLMR1_PLUGINS is set, add {name} to it)"
    )
