"""What the AI Portrait emulator knows and decides: photo checks, training jobs, trained models
and the rules a portrait request must meet. The HTTP side is :mod:`.api`.

Training jobs are a function of the clock, like SpeedPix tasks: 0 INIT for
:data:`INIT_SECONDS`, 1 WAIT for :data:`TRAIN_SECONDS`, then 2 SUCCESS — or 3 FAILED when a
training photo does not pass the check — each scaled by ``time_scale``.
"""

from __future__ import annotations

import json
import math
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from .faces import MIN_SIDE, Face, FaceReadError, find_faces

__all__ = [
    "CHECK_MESSAGES",
    "CONFIG_RULES",
    "INIT_SECONDS",
    "TRAIN_SECONDS",
    "Fetch",
    "PortraitService",
    "Refusal",
    "TrainedModel",
    "TrainingJob",
]

#: Seconds a job spends in state 0 (INIT), before ``time_scale``.
INIT_SECONDS = 1.0
#: Seconds a job spends in state 1 (WAIT), before ``time_scale``. Real training takes minutes.
TRAIN_SECONDS = 60.0
#: The first job id; ids are 32-bit, as in the official SDKs.
FIRST_JOB_ID = 10_001

Fetch = Callable[[str], bytes]
"""Downloads a picture by URL (raises on failure)."""

CHECK_MESSAGES = {
    1: "success",
    2: "Image decode error.",
    3: "Number of face is not 1.",
    4: "Image detect error.",
    5: "Image encoding error.",
    6: "This photo is not the same person in photos.",
}

#: The service's side of the guide's configure table: key → (type, low, high, choices, family).
CONFIG_RULES: dict[str, tuple[type, float | None, float | None, tuple[str, ...], str | None]] = {
    "lora_weights": (float, 0.5, 1.0, (), None),
    "first_denoising_strength": (float, 0.0, 1.0, (), None),
    "second_denoising_strength": (float, 0.0, 1.0, (), None),
    "more_like_me": (float, 0.0, 1.0, (), None),
    "crop_face_preprocess": (bool, None, None, (), None),
    "apply_face_fusion_before": (bool, None, None, (), None),
    "apply_face_fusion_after": (bool, None, None, (), None),
    "color_shift_middle": (bool, None, None, (), None),
    "color_shift_last": (bool, None, None, (), None),
    "background_restore": (bool, None, None, (), None),
    "skin_retouching_bool": (bool, None, None, (), None),
    "photo_enhancement_bool": (bool, None, None, (), None),
    "photo_enhancement_method": (str, None, None, ("photo_fix", "super_resolution"), None),
    "makeup_transfer": (bool, None, None, (), None),
    "makeup_transfer_ratio": (float, 0.0, 1.0, (), None),
    "face_shape_match": (bool, None, None, (), "sd15"),
    "ipa_control": (bool, None, None, (), None),
    "ipa_control_only": (bool, None, None, (), None),
    "ipa_image_path": (str, None, None, (), None),
    "ipa_weight": (float, 0.0, 1.0, (), None),
    "style_name": (str, None, None, ("Realistic", "Anime"), "sd15"),
    "lcm_accelerate": (bool, None, None, (), None),
    "sharp_ratio": (float, 0.0, 1.0, (), None),
    "t2i_prompt": (str, None, None, (), None),
    "first_diffusion_steps": (int, 20, 50, (), "sdxl"),
    "second_diffusion_steps": (int, 20, 50, (), "sdxl"),
    "scene_id": (str, None, None, (), "sdxl"),
}


class Refusal(Exception):
    """A request the service refuses: HTTP status, envelope code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def invalid_input() -> Refusal:
    return Refusal(462, "error", "Invalid input data. Please check the input dict.")


@attrs.define
class TrainedModel:
    model_id: str
    kind: str
    """``sd15``, ``sdxl`` or ``scene_lora``."""
    person: int | None
    app_id: str = ""
    """The app that trained it; to any other it does not exist."""
    job: TrainingJob | None = None
    corrupt: bool = False
    """Set by :meth:`PortraitService.corrupt_model`: its face reference is lost (HTTP 500)."""


@attrs.define(eq=False)
class TrainingJob:
    id: int
    app_id: str
    model: TrainedModel
    created_at: float
    init_seconds: float
    run_seconds: float
    checks: list[dict[str, Any]]
    failure: str | None

    def state(self, now: float) -> int:
        if now < self.created_at + self.init_seconds:
            return 0
        if now < self.created_at + self.init_seconds + self.run_seconds:
            return 1
        return 3 if self.failure else 2

    def message(self, now: float) -> str:
        state = self.state(now)
        if state == 0:
            return "job created"
        if state == 1:
            done = (now - self.created_at - self.init_seconds) / max(self.run_seconds, 1e-9)
            return f"training: {min(done, 0.99):.0%}"
        return self.failure or "success"

    def result(self, now: float) -> str:
        """The job's ``Result``: a JSON string once it succeeded, ``""`` before."""
        if self.state(now) != 2:
            return ""
        return json.dumps(
            {
                "model_id": self.model.model_id,
                "cost_time": round(self.init_seconds + self.run_seconds, 3),
                "states": self.checks,
            }
        )


class PortraitService:
    """Jobs and models of one emulator (thread-safe: the loopback server has its own thread)."""

    def __init__(self, *, clock: Callable[[], float], time_scale: float, fetch: Fetch) -> None:
        self.clock = clock
        self.time_scale = time_scale
        self.fetch = fetch
        self._lock = threading.Lock()
        self._jobs: dict[int, TrainingJob] = {}
        self._models: dict[str, TrainedModel] = {}
        self._next_id = FIRST_JOB_ID

    # ------------------------------------------------------------------ checks

    def _faces(self, url: str) -> tuple[int, int, list[Face]] | None:
        try:
            return find_faces(self.fetch(url))
        except FaceReadError:
            return None
        except Exception:  # unreachable, expired, not found: cannot be downloaded
            return None

    def check(self, urls: Sequence[str]) -> list[dict[str, Any]]:
        """One check result per photo (the rule is in :mod:`.faces`)."""
        seen = [self._faces(url) for url in urls]
        persons = [found[2][0].person for found in seen if found and len(found[2]) == 1]
        majority = max(set(persons), key=persons.count) if persons else None
        results = []
        for url, found in zip(urls, seen, strict=True):
            frontal = False
            if found is None:
                code = 2
            else:
                width, height, faces = found
                frontal = len(faces) == 1 and faces[0].frontal
                if min(width, height) < MIN_SIDE:
                    code = 4
                elif len(faces) != 1:
                    code = 3
                elif faces[0].touches_border:
                    code = 5
                elif faces[0].person != majority:
                    code = 6
                else:
                    code = 1
            results.append(
                {"code": code, "frontal": frontal, "message": CHECK_MESSAGES[code], "url": url}
            )
        return results

    # ------------------------------------------------------------------ training

    def train(self, app_id: str, urls: Sequence[str], kind: str) -> TrainingJob:
        checks = self.check(urls) if kind != "scene_lora" else []
        failure = None
        for index, check in enumerate(checks):
            if check["code"] != 1:
                failure = (
                    f"training failed: photo {index + 1} ({check['url']}) did not pass the "
                    f"check (code {check['code']}: {check['message']})"
                )
                break
        if kind == "scene_lora" and any(self._faces(url) is None for url in urls):
            failure = "training failed: a scene photo cannot be downloaded or decoded"
        persons = [c for c in checks if c["code"] == 1]
        person = None
        if persons:
            found = self._faces(persons[0]["url"])
            person = found[2][0].person if found and found[2] else None
        model = TrainedModel(model_id=str(uuid.uuid4()), kind=kind, person=person, app_id=app_id)
        with self._lock:
            job = TrainingJob(
                id=self._next_id,
                app_id=app_id,
                model=model,
                created_at=self.clock(),
                init_seconds=INIT_SECONDS * self.time_scale,
                run_seconds=TRAIN_SECONDS * self.time_scale,
                checks=checks,
                failure=failure,
            )
            self._next_id += 1
            model.job = job
            self._jobs[job.id] = job
            self._models[model.model_id] = model
        return job

    def job(self, job_id: int) -> TrainingJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    @property
    def jobs_created(self) -> int:
        with self._lock:
            return len(self._jobs)

    def corrupt_model(self, model_id: str) -> None:
        """Lose a model's face reference: creating with it then fails with HTTP 500 ("Face id
        image decode error"), as the guide documents."""
        with self._lock:
            self._models[model_id].corrupt = True

    # ------------------------------------------------------------------ creation rules

    def ready_model(self, model_id: str, family: str, app_id: str) -> TrainedModel:
        """A trained model usable for ``family`` (``sd15`` / ``sdxl``) by ``app_id``, or the
        462/500 the service answers."""
        with self._lock:
            model = self._models.get(model_id)
        if model is None or model.app_id != app_id or model.kind == "scene_lora":
            raise Refusal(462, "error", "Prompts get error. Please check the model_id.")
        if model.job is None or model.job.state(self.clock()) != 2:
            raise Refusal(
                462,
                "error",
                "Roop image decode error. Please check the user's lora is trained or not.",
            )
        if model.corrupt:
            raise Refusal(
                500,
                "error",
                "Face id image decode error. Pleace check the user's lora is trained or not.",
            )
        if (model.kind == "sdxl") != (family == "sdxl"):
            raise Refusal(462, "error", "Prompts get error. Please check the model_id.")
        return model

    def scene(self, scene_id: str, app_id: str) -> TrainedModel:
        with self._lock:
            model = self._models.get(scene_id)
        if model is None or model.app_id != app_id or model.kind != "scene_lora":
            raise invalid_input()
        if model.job is None or model.job.state(self.clock()) != 2:
            raise invalid_input()
        return model


def check_config(configure: Any, family: str) -> dict[str, Any]:
    """The create ``configure`` checked against the guide's table; a bad value is HTTP 462
    ("Invalid input data"). Unknown keys are passed to the algorithm, which ignores them."""
    if configure is None:
        return {}
    if not isinstance(configure, Mapping):
        raise invalid_input()
    for key, value in configure.items():
        rule = CONFIG_RULES.get(key)
        if rule is None:
            continue
        kind, low, high, choices, only = rule
        if only is not None and only != family:
            raise invalid_input()
        if kind is bool:
            ok = isinstance(value, bool)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind is float:  # integers are numbers too: the guide's samples send 1
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            ok = ok and math.isfinite(value)
        else:
            ok = isinstance(value, str) and bool(value)
        if ok and low is not None and high is not None:
            ok = low <= value <= high
        if ok and choices:
            ok = value in choices
        if not ok:
            raise invalid_input()
    if configure.get("ipa_control_only") and not configure.get("ipa_image_path"):
        raise invalid_input()
    return dict(configure)
