"""``AsyncPortrait``: the AI Portrait client — check photos, train, create portraits."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._core.client import AsyncServiceClient, ClientKeywords, policy_options
from .._core.handles import Waits
from .._core.telemetry import JOB, span
from .._core.waiting import Deadline
from .._errors import InputError, ResponseValidationError
from .._signing import PaiSigner
from .._validate import check_seconds
from .config import PortraitClientConfig, resolve_portrait_config
from .endpoints import (
    ACTION_CREATE,
    ACTION_TRAIN,
    CreateRequest,
    PortraitEndpoints,
    TrainRequest,
)
from .errors import FaceCountMismatchError
from .images import PortraitImage, decode_image
from .jobs import AsyncJobHandle, AsyncJobs, JobWaits
from .models import CheckResult, Job, JobState
from .options import (
    T2I_TEMPLATE,
    ModelKind,
    PortraitConfig,
    TrainKind,
    check_image_url,
    check_model_id,
)
from .profile import PortraitProfile

if TYPE_CHECKING:
    from typing_extensions import Unpack  # annotations only: 10 ms at start-up

__all__ = ["AsyncPortrait"]

#: Most photos one training takes (the guide: 5 to 20; its samples use 3 or 4).
TRAIN_IMAGES_MAX = 20
#: Most photos one check takes.
CHECK_IMAGES_MAX = 100
TRAIN_MODEL_NAMES: dict[str, str | None] = {
    "sd15": None,
    "sdxl": "train_xl",
    "scene_lora": "train_xl",
}
CREATE_MODEL_NAMES: dict[str, str | None] = {"sd15": None, "sdxl": "create_xl"}


def _image_list(name: str, images: Any, most: int) -> list[str]:
    if isinstance(images, (str, bytes)) or not isinstance(images, Sequence):
        raise InputError(
            f"{name} must be a list of image URLs, got {type(images).__name__}"
            + (" (wrap a single URL in a list)" if isinstance(images, str) else "")
        )
    if not images:
        raise InputError(f"{name} is empty; give at least one image URL")
    if len(images) > most:
        raise InputError(f"{name} holds {len(images)} images; at most {most} are accepted")
    return [check_image_url(f"{name}[{index}]", url) for index, url in enumerate(images)]


def _kind(name: str, value: Any, allowed: Mapping[str, Any]) -> str:
    if value not in allowed:
        raise InputError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return str(value)


#: Telemetry attributes of the AI Portrait spans.
IMAGES = "speedpix.portrait.images"
MODEL = "speedpix.portrait.model_name"


class AsyncPortrait(AsyncServiceClient[PortraitClientConfig]):
    """Asynchronous PAI AI Portrait (AI写真) client.

    The host, AppId and Token are shown on the AI Portrait page; they come from ``host`` /
    ``app_id`` / ``token`` or, when not passed, from the ``PAI_PORTRAIT_HOST`` /
    ``PAI_PORTRAIT_APP_ID`` / ``PAI_PORTRAIT_TOKEN`` environment variables (the AppId and the
    Token as a pair, from one source)::

        async with AsyncPortrait() as portrait:
            job = await portrait.train(photo_urls)
            await job.wait()
            image = await portrait.create(template_url, model_id=job.model_id)
            await image.save("portrait.jpg")

    :param options: what every client takes (:class:`~speedpix_async.ClientKeywords`):
        ``timeout`` (per request; default 120 s to read — creating a portrait takes tens of
        seconds — and 10 s to connect), ``max_retries`` (default 4; ``train`` and ``create`` are
        never sent twice), ``user_agent``, ``http_client`` / ``transport``, ``http_backend``,
        ``retry_policy``, ``poll_policy``.
    """

    jobs: AsyncJobs
    """Training jobs: ``get``, ``wait``, ``handle``."""

    def __init__(
        self,
        host: str | None = None,
        app_id: str | None = None,
        token: str | None = None,
        **options: Unpack[ClientKeywords],
    ) -> None:
        config = resolve_portrait_config(
            host=host, app_id=app_id, token=token, **policy_options(options, "AsyncPortrait()")
        )
        self._start(config, options)

    def _profile(self, config: PortraitClientConfig) -> PortraitProfile:
        return PortraitProfile(PaiSigner(config.app_id, config.token))

    def _address(self, config: PortraitClientConfig) -> tuple[str, str]:
        # The signature covers the API path only, never a path prefix in the host.
        return config.host, ""

    def _build(self) -> None:
        self._endpoints = PortraitEndpoints(self._transport)
        self._waits = JobWaits(self._endpoints, Waits(self._config.poll))
        self.jobs = AsyncJobs(self._waits)

    def __repr__(self) -> str:
        return f"AsyncPortrait(host={self._config.host!r}, app_id={self._config.app_id!r})"

    @property
    def host(self) -> str:
        """The service address requests go to."""
        return self._config.host

    @property
    def app_id(self) -> str:
        """The AppId (an identifier; the token is never exposed)."""
        return self._config.app_id

    def _deadline(self, timeout: float | None) -> Deadline:
        return self._waits.waits.deadline(check_seconds("timeout", timeout))

    async def check_images(
        self, images: Sequence[str], *, timeout: float | None = None
    ) -> list[CheckResult]:
        """Check photos before training: one :class:`~speedpix_async.CheckResult` per image, in
        the order given (``code`` 1 = usable; ``meaning`` says what is wrong otherwise).
        ``timeout`` (seconds; default 30 minutes) bounds the whole call:
        :class:`~speedpix_async.PortraitTimeoutError` when it passes."""
        urls = _image_list("images", images, CHECK_IMAGES_MAX)
        with span("portrait.check", {IMAGES: len(urls)}):
            checked, _ = await self._endpoints.check(urls, self._deadline(timeout))
        results = checked.check_results
        if len(results) != len(urls):
            raise ResponseValidationError(
                f"the check answered {len(results)} results for {len(urls)} images "
                "@ $.data.check_results"
            )
        by_url = {result.url: result for result in results}
        if all(result.url == url for result, url in zip(results, urls, strict=True)):
            return list(results)
        if set(by_url) == set(urls):
            return [by_url[url] for url in urls]
        return list(results)

    async def train(
        self,
        images: Sequence[str],
        *,
        kind: TrainKind = "sd15",
        prompts: Sequence[str] | None = None,
        config: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> AsyncJobHandle:
        """Start training a model on photos of one person; returns the job's handle (its
        ``model_id`` is what ``create`` takes once ``await handle.wait()`` succeeded).

        ``kind``: ``"sd15"`` (Stable Diffusion 1.5, the default), ``"sdxl"`` (an SDXL portrait
        model) or ``"scene_lora"`` (an SDXL scene LoRA; ``prompts`` gives one prompt per photo,
        and the returned model id is the ``scene_id`` for ``create``). ``config`` passes further
        training keys through as they are. Never sent twice: a lost answer raises
        :class:`~speedpix_async.OutcomeUnknownError`. ``timeout`` (seconds; default 30 minutes)
        bounds the call that starts the training (wait for the job with ``handle.wait()``); when
        it passes with the request on the wire, the error is an unknown outcome too
        (:class:`~speedpix_async.PortraitOutcomeTimeoutError`).
        """
        deadline = self._deadline(timeout)
        urls = _image_list("images", images, TRAIN_IMAGES_MAX)
        kind_ = _kind("kind", kind, TRAIN_MODEL_NAMES)
        configure: dict[str, Any] = {}
        if config is not None:
            if not isinstance(config, Mapping) or not all(isinstance(k, str) for k in config):
                raise InputError(f"config must be a dict with string keys, got {config!r}")
            configure.update(config)
        if kind_ == "scene_lora":
            if prompts is None or isinstance(prompts, str) or not isinstance(prompts, Sequence):
                raise InputError("a scene LoRA needs prompts=: a list with one prompt per photo")
            if len(prompts) != len(urls) or not all(isinstance(p, str) and p for p in prompts):
                raise InputError(
                    f"prompts must hold one non-empty prompt per photo: {len(urls)} photos, "
                    f"{len(prompts)} prompts"
                )
            configure.update(train_scene_lora_bool=True, scene_lora_prompts=list(prompts))
        elif prompts is not None:
            raise InputError("prompts= is for kind='scene_lora' only")
        request = TrainRequest(
            action=ACTION_TRAIN,
            images=urls,
            model_name=TRAIN_MODEL_NAMES[kind_],
            configure=configure or None,
        )
        with span(
            "portrait.train", {IMAGES: len(urls), MODEL: request.model_name or ""}
        ) as current:
            trained, _ = await self._endpoints.train(request, deadline)
            if current is not None:
                current.set_attribute(JOB, trained.job_id)
        job = Job(id=trained.job_id, state=JobState.INIT, model_id=trained.model_id)
        return AsyncJobHandle(job, waits=self._waits, fresh=True)

    async def create(
        self,
        template_image: str | None = None,
        *,
        model_id: str | None = None,
        model_ids: Sequence[str] | None = None,
        kind: ModelKind = "sd15",
        config: PortraitConfig | Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> PortraitImage:
        """Create a portrait; returns the :class:`~speedpix_async.PortraitImage`.

        Every mode of the guide:

        * one person: ``create(template_url, model_id=job.model_id)``;
        * a group: ``model_ids=[…]`` — the template holds exactly as many faces;
        * without training: ``config={"ipa_control_only": True, "ipa_image_path": ref_url}``;
        * from a prompt instead of a template: ``config={"t2i_prompt": "…"}`` (no template);
        * SDXL: ``kind="sdxl"``; with a scene LoRA: ``config={"scene_id": scene_model_id}``.

        Every ``config`` key is checked against the guide's range before anything is sent.
        Never sent twice: a lost answer raises :class:`~speedpix_async.OutcomeUnknownError`.
        ``timeout`` (seconds; default 30 minutes) bounds the whole call; when it passes with the
        request on the wire the error is an unknown outcome too
        (:class:`~speedpix_async.PortraitOutcomeTimeoutError`: the portrait may have been made).
        """
        deadline = self._deadline(timeout)
        kind_ = _kind("kind", kind, CREATE_MODEL_NAMES)
        settings = PortraitConfig.of(config)
        settings.check_for(kind_)
        if model_id is not None and model_ids is not None:
            raise InputError("pass model_id= for one person or model_ids= for a group, not both")
        ids: list[str] | None = None
        if model_ids is not None:
            if isinstance(model_ids, str) or not isinstance(model_ids, Sequence):
                raise InputError(f"model_ids must be a list of model ids, got {model_ids!r}")
            if len(model_ids) < 2:
                raise InputError("model_ids is for a group (two or more); pass model_id= for one")
            ids = [check_model_id(f"model_ids[{i}]", m) for i, m in enumerate(model_ids)]
        elif model_id is not None:
            check_model_id("model_id", model_id)
        elif not settings.ipa_control_only:
            raise InputError(
                "pass model_id= (from a finished training) or model_ids= (a group), or create "
                "without training with config ipa_control_only=True and ipa_image_path=<url>"
            )
        if template_image is None:
            if not (settings.t2i_prompt or settings.scene_id):
                raise InputError(
                    "template_image is required (the URL of a template with the faces to "
                    "replace), unless config sets t2i_prompt or scene_id to generate the scene"
                )
            template_image = T2I_TEMPLATE
        elif template_image != T2I_TEMPLATE:
            check_image_url("template_image", template_image)
        request = CreateRequest(
            action=ACTION_CREATE,
            model_id="" if ids is not None or model_id is None else model_id,
            model_ids=ids,
            model_name=CREATE_MODEL_NAMES[kind_],
            template_image=template_image,
            configure=settings.to_wire() or None,
        )
        try:
            with span("portrait.create", {MODEL: request.model_name or ""}):
                created, reply = await self._endpoints.create(request, deadline)
        except FaceCountMismatchError as exc:
            count = len(ids) if ids is not None else 1
            enriched = copy.copy(exc)
            enriched.message = (
                f"the template's faces do not match the {count} model id(s) given: use a "
                f"template with exactly {count} face(s), or give one model id per face"
            )
            raise enriched from exc
        return decode_image(created.image, cost_time=created.cost_time, request_id=reply.request_id)
