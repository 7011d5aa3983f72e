"""vlmr1: rewards and verifiers for GRPO training of vision-language models.

Importing this package is cheap: no plugin is loaded and no torch is imported
until something asks for the registry.
"""

from .hookspecs import hookimpl
from .reportviews import Notice, ReportView, Shape
from .types import Params, PromptTemplate, Provenance, Reward, Sample, Verdict, Verifier

__version__ = "0.1.0"

__all__ = [
    "hookimpl",
    "Notice",
    "Params",
    "PromptTemplate",
    "Provenance",
    "ReportView",
    "Reward",
    "Sample",
    "Shape",
    "Verdict",
    "Verifier",
    "get_registry",
    "__version__",
]


def get_registry():  # noqa: ANN201 - re-exported lazily to keep import light
    """The process-wide plugin registry, loaded on first call."""
    from .registry import get_registry as _get

    return _get()
