"""vLLM plugin: resolves LoRA adapters that vLLM has not loaded from a lora-squeeze service,
squeezed to the engine's ``--max-lora-rank``.

Installed, it adds the entry point ``lora_squeeze = lora_squeeze_vllm:register`` to the group
``vllm.general_plugins``; vLLM calls ``register()`` in each of its processes, and it registers one
:class:`LoraSqueezeResolver` with ``vllm.lora.resolver.LoRAResolverRegistry`` under the name
:data:`RESOLVER_NAME`. See README.md for the settings.
"""

from .resolver import (
    RESOLVER_NAME,
    LoraSqueezeResolver,
    adapter_dir_name,
    is_adapter_name,
    register,
    stable_lora_int_id,
)

__all__ = [
    "RESOLVER_NAME",
    "LoraSqueezeResolver",
    "adapter_dir_name",
    "is_adapter_name",
    "register",
    "stable_lora_int_id",
]
