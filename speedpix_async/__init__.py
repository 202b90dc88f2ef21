"""speedpix_async — an asyncio-first client for Alibaba Cloud SpeedPix (智作工坊) and PAI AI
Portrait (AI写真).

Quick start::

    from speedpix_async import AsyncSpeedPix

    async with AsyncSpeedPix() as client:      # SPEEDPIX_APP_KEY / _APP_SECRET / _ENDPOINT
        output = await client.run("your-workflow-id", input={"prompt": "a cat"})

AI Portrait: ``AsyncPortrait`` (``PAI_PORTRAIT_HOST`` / ``_APP_ID`` / ``_TOKEN``) checks photos,
trains a personal model and creates portraits.

Blocking code uses the generated twins ``SpeedPix`` and ``Portrait`` (and
``speedpix_async.sync.run``). A local emulator of both services ships as
``speedpix_async.emulator`` (extra ``[emulator]``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConfigurationError,
    InputError,
    JournalDamagedError,
    LocalFileAsTextWarning,
    NonceReusedError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    SignatureError,
    SpeedPixError,
    SpeedPixException,
    TimestampError,
    UnsupportedOperationError,
)
from ._logging import configure_from_env as _configure_logging
from ._version import __version__

if TYPE_CHECKING:
    from ._config import PollPolicy, RetryPolicy
    from ._core.backends import HttpBackendName
    from ._core.client import ClientKeywords
    from .outputs import AudioFile, DocumentFile, FileOutput, ImageFile, VideoFile
    from .portrait.client import AsyncPortrait
    from .portrait.errors import (
        FaceCountMismatchError,
        PortraitAuthenticationError,
        PortraitError,
        PortraitInputError,
        PortraitJobFailedError,
        PortraitJobTimeoutError,
        PortraitNotFoundError,
        PortraitOutcomeTimeoutError,
        PortraitProcessingError,
        PortraitQuotaError,
        PortraitServerError,
        PortraitTimeoutError,
    )
    from .portrait.images import PortraitImage
    from .portrait.jobs import AsyncJobHandle, AsyncJobs
    from .portrait.models import CheckCode, CheckResult, Job, JobState, TrainingResult
    from .portrait.options import ModelKind, PortraitConfig, TrainKind
    from .speedpix.batch import AsyncBatch
    from .speedpix.client import AsyncSpeedPix
    from .speedpix.config import ClientConfig
    from .speedpix.defaults import get_default_client, run, set_default_client
    from .speedpix.errors import (
        PredictionError,
        PredictionFailedError,
        PredictionTimeoutError,
        SubmitOutcomeUnknownError,
        SubmitTimeoutError,
    )
    from .speedpix.files import AsyncFiles
    from .speedpix.models import (
        BatchResult,
        Prediction,
        Progress,
        TaskResult,
        TaskStatus,
        UploadedFile,
    )
    from .speedpix.options import (
        FileEncodingStrategy,
        ProgressCallback,
        RunKeywords,
        SubmitKeywords,
    )
    from .speedpix.predictions import AsyncPredictionHandle, AsyncPredictions
    from .sync import Portrait, SpeedPix, SyncInAsyncWarning

#: Where each public name lives, imported on first use (PEP 562): ``import speedpix_async``
#: loads only the errors, so a program pays for httpx, the blocking runtime, AI Portrait or the
#: batch machinery only when it uses them (docs/performance.md, "Start-up").
_LAZY: dict[str, str] = {
    "AsyncBatch": ".speedpix.batch",
    "AsyncFiles": ".speedpix.files",
    "AsyncJobHandle": ".portrait.jobs",
    "AsyncJobs": ".portrait.jobs",
    "AsyncPortrait": ".portrait.client",
    "AsyncPredictionHandle": ".speedpix.predictions",
    "AsyncPredictions": ".speedpix.predictions",
    "AsyncSpeedPix": ".speedpix.client",
    "AudioFile": ".outputs",
    "BatchResult": ".speedpix.models",
    "CheckCode": ".portrait.models",
    "CheckResult": ".portrait.models",
    "ClientConfig": ".speedpix.config",
    "ClientKeywords": "._core.client",
    "DocumentFile": ".outputs",
    "FaceCountMismatchError": ".portrait.errors",
    "FileEncodingStrategy": ".speedpix.options",
    "FileOutput": ".outputs",
    "HttpBackendName": "._core.backends",
    "ImageFile": ".outputs",
    "Job": ".portrait.models",
    "JobState": ".portrait.models",
    "ModelKind": ".portrait.options",
    "PollPolicy": "._config",
    "Portrait": ".sync",
    "PortraitAuthenticationError": ".portrait.errors",
    "PortraitConfig": ".portrait.options",
    "PortraitError": ".portrait.errors",
    "PortraitImage": ".portrait.images",
    "PortraitInputError": ".portrait.errors",
    "PortraitJobFailedError": ".portrait.errors",
    "PortraitJobTimeoutError": ".portrait.errors",
    "PortraitNotFoundError": ".portrait.errors",
    "PortraitOutcomeTimeoutError": ".portrait.errors",
    "PortraitProcessingError": ".portrait.errors",
    "PortraitQuotaError": ".portrait.errors",
    "PortraitServerError": ".portrait.errors",
    "PortraitTimeoutError": ".portrait.errors",
    "Prediction": ".speedpix.models",
    "PredictionError": ".speedpix.errors",
    "PredictionFailedError": ".speedpix.errors",
    "PredictionTimeoutError": ".speedpix.errors",
    "Progress": ".speedpix.models",
    "ProgressCallback": ".speedpix.options",
    "RetryPolicy": "._config",
    "RunKeywords": ".speedpix.options",
    "SpeedPix": ".sync",
    "SubmitKeywords": ".speedpix.options",
    "SubmitOutcomeUnknownError": ".speedpix.errors",
    "SubmitTimeoutError": ".speedpix.errors",
    "SyncInAsyncWarning": ".sync",
    "TaskResult": ".speedpix.models",
    "TaskStatus": ".speedpix.models",
    "TrainKind": ".portrait.options",
    "TrainingResult": ".portrait.models",
    "UploadedFile": ".speedpix.models",
    "VideoFile": ".outputs",
    "get_default_client": ".speedpix.defaults",
    "run": ".speedpix.defaults",
    "set_default_client": ".speedpix.defaults",
}

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncBatch",
    "AsyncFiles",
    "AsyncJobHandle",
    "AsyncJobs",
    "AsyncPortrait",
    "AsyncPredictionHandle",
    "AsyncPredictions",
    "AsyncSpeedPix",
    "AudioFile",
    "AuthenticationError",
    "BadRequestError",
    "BatchResult",
    "CheckCode",
    "CheckResult",
    "ClientClosedError",
    "ClientConfig",
    "ClientKeywords",
    "ConfigurationError",
    "DocumentFile",
    "FaceCountMismatchError",
    "FileEncodingStrategy",
    "FileOutput",
    "HttpBackendName",
    "ImageFile",
    "InputError",
    "Job",
    "JobState",
    "JournalDamagedError",
    "LocalFileAsTextWarning",
    "ModelKind",
    "NonceReusedError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "PollPolicy",
    "Portrait",
    "PortraitAuthenticationError",
    "PortraitConfig",
    "PortraitError",
    "PortraitImage",
    "PortraitInputError",
    "PortraitJobFailedError",
    "PortraitJobTimeoutError",
    "PortraitNotFoundError",
    "PortraitOutcomeTimeoutError",
    "PortraitProcessingError",
    "PortraitQuotaError",
    "PortraitServerError",
    "PortraitTimeoutError",
    "Prediction",
    "PredictionError",
    "PredictionFailedError",
    "PredictionTimeoutError",
    "Progress",
    "ProgressCallback",
    "QuotaExceededError",
    "RateLimitError",
    "ResponseValidationError",
    "RetryPolicy",
    "RunKeywords",
    "ServerError",
    "SignatureError",
    "SpeedPix",
    "SpeedPixError",
    "SpeedPixException",
    "SubmitKeywords",
    "SubmitOutcomeUnknownError",
    "SubmitTimeoutError",
    "SyncInAsyncWarning",
    "TaskResult",
    "TaskStatus",
    "TimestampError",
    "TrainKind",
    "TrainingResult",
    "UnsupportedOperationError",
    "UploadedFile",
    "VideoFile",
    "__version__",
    "get_default_client",
    "run",
    "set_default_client",
]


if not TYPE_CHECKING:  # type checkers see the imports above, so a misspelt name stays an error

    def __getattr__(name: str) -> Any:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


_configure_logging()  # SPEEDPIX_LOG=debug|info
