"""lora-squeeze: a client for the lora-squeeze service, and a rank annealer for PEFT training.

``Client`` (standard library, numpy and safetensors) uploads adapters, downloads squeezed ones as
verified PEFT directories, and runs fleet normalizations. ``lora_squeeze.anneal`` (torch and PEFT:
``pip install 'lora-squeeze[train]'``) anneals an adapter's rank during training.
"""

from .client import Adapter, Client, Job
from .errors import IntegrityError, JobFailed, LoraSqueezeError, ProblemError, SqueezeFailed
from .plan import AnnealPlan, Phase
from .squeezers import CLISqueezer, ServiceSqueezer, Squeezed, Squeezer

__all__ = ["Adapter", "AnnealPlan", "CLISqueezer", "Client", "IntegrityError", "Job", "JobFailed",
           "LoraSqueezeError", "Phase", "ProblemError", "ServiceSqueezer", "Squeezed", "Squeezer", "SqueezeFailed"]
__version__ = "0.1.0"
