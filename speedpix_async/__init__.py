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

from ._config import PollPolicy, RetryPolicy
from ._core.backends import HttpBackendName
from ._core.client import ClientKeywords
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
from .speedpix.models import BatchResult, Prediction, Progress, TaskResult, TaskStatus, UploadedFile
from .speedpix.options import FileEncodingStrategy, ProgressCallback, RunKeywords, SubmitKeywords
from .speedpix.predictions import AsyncPredictionHandle, AsyncPredictions
from .sync import Portrait, SpeedPix, SyncInAsyncWarning

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

_configure_logging()  # SPEEDPIX_LOG=debug|info
