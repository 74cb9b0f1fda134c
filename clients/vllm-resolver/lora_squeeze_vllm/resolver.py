"""The lora-squeeze LoRA resolver for vLLM.

vLLM (0.32: ``vllm/entrypoints/openai/models/serving.py``, ``OpenAIServingModels.resolve_lora``)
asks every registered resolver, in turn, for an adapter a request names but the engine has not
loaded, when ``VLLM_ALLOW_RUNTIME_LORA_UPDATING`` is on. It does not catch a resolver's exceptions
(one would end the request with an error and skip the resolvers after it), so this one never
raises from ``resolve_lora``: an adapter the service does not have is ``None`` ("not mine", vLLM
answers 404 when no resolver has it), and every other failure is logged and also ``None``.
vLLM overwrites ``lora_int_id`` with its own counter; the one returned here is stable per name and
positive, as ``LoRARequest.__post_init__`` requires.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import sys
import urllib.parse
from typing import Any

from vllm.lora.request import LoRARequest
from vllm.lora.resolver import LoRAResolver, LoRAResolverRegistry

# A child of vLLM's "vllm" logger, so its lines come out with vLLM's own handler and format.
logger = logging.getLogger("vllm.lora_squeeze_vllm")

#: The name this plugin's resolver has in vLLM's LoRAResolverRegistry.
RESOLVER_NAME = "lora-squeeze"

#: Seconds one look-up may wait for the service. The first look-up of an adapter at a rank is when
#: the service squeezes it (the hub commit id is derived from the squeezed bytes), which can take a
#: while for a large adapter.
DEFAULT_TIMEOUT = 300.0

# The service's adapter names (Sources/Store/Catalog/AdapterName.swift): one or two parts joined by
# one "/", each 1-128 characters of [A-Za-z0-9._-] not starting with "." or "-". A name that cannot
# be one of them is not looked up at all.
_PART = r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}"
_NAME = re.compile(rf"{_PART}(?:/{_PART})?")


def is_adapter_name(name: str) -> bool:
    """Whether ``name`` is spelled as a lora-squeeze adapter name (``chat-v2``, ``team-a/chat-v2``)."""
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


def adapter_dir_name(name: str) -> str:
    """The one directory name an adapter name is cached under: the ``/`` becomes ``+``, a character
    names never hold, so two names never share a directory (``team-a/chat-v2`` → ``team-a+chat-v2``)."""
    if not is_adapter_name(name):
        raise ValueError(f"not a lora-squeeze adapter name: {name!r}")
    return name.replace("/", "+")


def stable_lora_int_id(name: str) -> int:
    """A positive 31-bit id derived from the name, the same in every process and run (Python's
    ``hash()``, which vLLM's filesystem resolver uses, is salted per process and may be 0)."""
    value = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") & 0x7FFF_FFFF
    return value or 1


def _rank_of(vllm_config: Any) -> int | None:
    rank = getattr(getattr(vllm_config, "lora_config", None), "max_lora_rank", None)
    return rank if isinstance(rank, int) and rank > 0 else None


def vllm_max_lora_rank(frame: Any = None, depth: int = 24) -> int | None:
    """The engine's ``max_lora_rank`` as vLLM has it, or None when it cannot be seen.

    A resolver is handed only (base_model_name, lora_name), and vLLM's API-server process has no
    global engine config while it serves requests, so this looks in two places: the config set by
    ``vllm.config.set_current_vllm_config`` (while vLLM builds the engine, and in tests), then the
    callers' frames for an object holding ``engine_client.vllm_config`` or ``vllm_config`` — in vLLM
    0.32 the caller is ``OpenAIServingModels.resolve_lora``, whose ``self.engine_client.vllm_config``
    is the engine's ``VllmConfig``."""
    try:
        from vllm.config import get_current_vllm_config_or_none

        rank = _rank_of(get_current_vllm_config_or_none())
        if rank is not None:
            return rank
    except ImportError:  # an older vLLM without it: the frames still tell
        pass
    while frame is not None and depth > 0:
        owner = frame.f_locals.get("self")
        if owner is not None:
            for config in (getattr(getattr(owner, "engine_client", None), "vllm_config", None),
                           getattr(owner, "vllm_config", None)):
                rank = _rank_of(config)
                if rank is not None:
                    return rank
        frame = frame.f_back
        depth -= 1
    return None


def _errors():
    try:
        from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
    except ImportError:  # huggingface_hub < 0.23
        from huggingface_hub.utils import HfHubHTTPError, RepositoryNotFoundError
    return HfHubHTTPError, RepositoryNotFoundError


def _status(error: Exception) -> int | None:
    return getattr(getattr(error, "response", None), "status_code", None)


class LoraSqueezeResolver(LoRAResolver):
    """Downloads an adapter through the service's Hub view ``{url}/hub/r{rank}`` into
    ``{cache_dir}/lora-squeeze/r{rank}/{name with / as +}`` and returns a LoRARequest for it.

    ``max_lora_rank`` fixes the rank; left None, each look-up reads vLLM's (see
    :func:`vllm_max_lora_rank`)."""

    def __init__(self, url: str, cache_dir: str, token: str | None = None,
                 max_lora_rank: int | None = None, timeout: float = DEFAULT_TIMEOUT):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"LORA_SQUEEZE_URL must be an http(s) URL like http://lora-squeeze:8080, not {url!r}")
        if max_lora_rank is not None and (not isinstance(max_lora_rank, int) or max_lora_rank < 1):
            raise ValueError(f"max_lora_rank must be a positive integer, not {max_lora_rank!r}")
        self.url = url.rstrip("/")
        self.cache_dir = cache_dir
        self.token = token or None
        self.max_lora_rank = max_lora_rank
        self.timeout = timeout

    def __repr__(self) -> str:  # never shows the token
        return f"LoraSqueezeResolver(url={self.url!r}, cache_dir={self.cache_dir!r}, max_lora_rank={self.max_lora_rank})"

    async def resolve_lora(self, base_model_name: str, lora_name: str) -> LoRARequest | None:
        # The caller's frame is read before the first await, while it is still on the stack.
        rank = self.max_lora_rank or vllm_max_lora_rank(sys._getframe(1))
        if not is_adapter_name(lora_name):
            logger.debug("lora-squeeze: %r is not an adapter name; not looked up", lora_name)
            return None
        if rank is None:
            logger.error("lora-squeeze: cannot resolve %r: vLLM's max_lora_rank is not visible to the "
                         "resolver (is LoRA enabled?); set LORA_SQUEEZE_RANK to the --max-lora-rank", lora_name)
            return None
        try:
            path = await asyncio.to_thread(self._download, lora_name, rank)
        except Exception as error:  # noqa: BLE001 - vLLM must get None, not an exception (module doc)
            self._log_failure(lora_name, rank, error)
            return None
        if path is None:
            return None
        logger.info("lora-squeeze: resolved %r at rank %d into %s", lora_name, rank, path)
        return LoRARequest(lora_name=lora_name, lora_int_id=stable_lora_int_id(lora_name), lora_path=path)

    def _endpoint(self, rank: int) -> str:
        return f"{self.url}/hub/r{rank}"

    def _download(self, lora_name: str, rank: int) -> str | None:
        """Blocking: runs in a worker thread. Returns the adapter's directory, or None when the
        service has no adapter by that name (for this token)."""
        from huggingface_hub import HfApi, snapshot_download

        HfHubHTTPError, RepositoryNotFoundError = _errors()
        endpoint = self._endpoint(rank)
        # token=False, not None: huggingface_hub would otherwise send HF_TOKEN or the stored Hugging
        # Face login to the service.
        token = self.token or False
        local_dir = os.path.join(self.cache_dir, "lora-squeeze", f"r{rank}", adapter_dir_name(lora_name))
        # The revision look-up is where the service squeezes (its commit id is derived from the
        # squeezed bytes) and where it says not-found, unauthenticated or forbidden. It is made here,
        # not left to snapshot_download, which answers any HTTP error by returning an existing
        # local_dir: a deleted adapter or a revoked token would go on being served from the cache.
        unreachable = None
        try:
            revision = HfApi(endpoint=endpoint, token=token).model_info(
                lora_name, revision="main", timeout=self.timeout).sha
        except RepositoryNotFoundError as error:
            if _status(error) == 404:
                logger.debug("lora-squeeze: no adapter %r at %s", lora_name, self.url)
                return None
            raise
        except HfHubHTTPError as error:
            if (_status(error) or 0) < 500:
                raise
            unreachable, revision = error, "main"
        except Exception as error:  # noqa: BLE001 - connection refused, timeout, DNS: the service is down
            unreachable, revision = error, "main"
        if unreachable is not None and not os.path.isfile(os.path.join(local_dir, "adapter_config.json")):
            raise unreachable
        # With the service down, snapshot_download returns a complete earlier download of local_dir.
        path = snapshot_download(repo_id=lora_name, revision=revision, endpoint=endpoint, token=token,
                                 local_dir=local_dir, etag_timeout=self.timeout)
        if unreachable is not None:
            logger.warning("lora-squeeze: %s is unreachable (%s); serving the copy of %r cached in %s",
                           endpoint, type(unreachable).__name__, lora_name, path)
        with open(os.path.join(path, "adapter_config.json")) as file:
            config = json.load(file)
        if config.get("r") != rank:
            raise RuntimeError(f"{endpoint} served adapter_config.json with r={config.get('r')!r}, not {rank}")
        return path

    def _log_failure(self, lora_name: str, rank: int, error: Exception) -> None:
        HfHubHTTPError, _ = _errors()
        status = _status(error) if isinstance(error, HfHubHTTPError) else None
        where = self._endpoint(rank)
        if status == 401 and self.token is None:
            logger.error("lora-squeeze: %s needs a token to resolve %r (HTTP 401): set LORA_SQUEEZE_TOKEN",
                         where, lora_name)
        elif status == 401:
            logger.error("lora-squeeze: %s rejected LORA_SQUEEZE_TOKEN resolving %r (HTTP 401: unknown, "
                         "expired or revoked token)", where, lora_name)
        elif status == 403:
            logger.error("lora-squeeze: LORA_SQUEEZE_TOKEN may not read %r at %s (HTTP 403: it needs the "
                         "read scope)", lora_name, where)
        else:
            logger.error("lora-squeeze: resolving %r at rank %d from %s failed: %s: %s",
                         lora_name, rank, where, type(error).__name__, str(error).splitlines()[0] if str(error) else "")


def register() -> None:
    """The ``vllm.general_plugins`` entry point. vLLM calls it in each of its processes (API
    server, engine core, workers), so it only reads the environment and registers."""
    url = os.environ.get("LORA_SQUEEZE_URL", "").strip()
    if not url:
        # Installed but not configured (a vLLM that does not use the service): stay out of the way.
        logger.info("lora-squeeze: LORA_SQUEEZE_URL is not set; resolver not registered")
        return
    cache_dir = os.environ.get("VLLM_LORA_RESOLVER_CACHE_DIR", "").strip()
    if not cache_dir:
        raise ValueError("lora-squeeze resolver: LORA_SQUEEZE_URL is set but VLLM_LORA_RESOLVER_CACHE_DIR is not; "
                         "set it to a writable directory the resolver downloads adapters into")
    try:
        os.makedirs(cache_dir, exist_ok=True)
    except OSError as error:
        raise ValueError(f"lora-squeeze resolver: VLLM_LORA_RESOLVER_CACHE_DIR={cache_dir!r} is not a "
                         f"usable directory: {error}") from None
    rank_text = os.environ.get("LORA_SQUEEZE_RANK", "").strip()
    try:
        rank = int(rank_text) if rank_text else None
        timeout = float(os.environ.get("LORA_SQUEEZE_TIMEOUT", "").strip() or DEFAULT_TIMEOUT)
    except ValueError:
        raise ValueError("lora-squeeze resolver: LORA_SQUEEZE_RANK must be an integer and LORA_SQUEEZE_TIMEOUT "
                         "a number of seconds") from None
    resolver = LoraSqueezeResolver(url=url, cache_dir=cache_dir, token=os.environ.get("LORA_SQUEEZE_TOKEN", "").strip(),
                                   max_lora_rank=rank, timeout=timeout)
    LoRAResolverRegistry.register_resolver(RESOLVER_NAME, resolver)
    logger.info("lora-squeeze: registered %r", resolver)
