"""speedpix_async — an asyncio-first client for Alibaba Cloud SpeedPix (智作工坊).

Quick start::

    from speedpix_async import AsyncSpeedPix

    async with AsyncSpeedPix() as client:      # SPEEDPIX_APP_KEY / _APP_SECRET / _ENDPOINT
        output = await client.run("your-workflow-id", input={"prompt": "a cat"})

Blocking code uses the generated twin ``SpeedPix`` (and ``speedpix_async.sync.run``). A local
emulator of the service ships as ``speedpix_async.emulator`` (extra ``[emulator]``).
"""

from ._config import ClientConfig, PollPolicy, RetryPolicy
from ._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    InputError,
    NonceReusedError,
    NotFoundError,
    PermissionDeniedError,
    PredictionError,
    PredictionFailedError,
    PredictionTimeoutError,
    QuotaExceededError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    SignatureError,
    SpeedPixError,
    SpeedPixException,
    SubmitOutcomeUnknownError,
    SubmitTimeoutError,
    TimestampError,
    UnsupportedOperationError,
)
from ._version import __version__
from .models import BatchResult, Prediction, Progress, TaskResult, TaskStatus, UploadedFile
from .outputs import AudioFile, DocumentFile, FileOutput, ImageFile, VideoFile
from .speedpix.batch import AsyncBatch
from .speedpix.client import AsyncSpeedPix
from .speedpix.defaults import get_default_client, run, set_default_client
from .speedpix.files import AsyncFiles
from .speedpix.options import FileEncodingStrategy, ProgressCallback
from .speedpix.predictions import AsyncPredictionHandle, AsyncPredictions
from .sync import SpeedPix, SyncInAsyncWarning

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncBatch",
    "AsyncFiles",
    "AsyncPredictionHandle",
    "AsyncPredictions",
    "AsyncSpeedPix",
    "AudioFile",
    "AuthenticationError",
    "BadRequestError",
    "BatchResult",
    "ClientConfig",
    "ConfigurationError",
    "DocumentFile",
    "FileEncodingStrategy",
    "FileOutput",
    "ImageFile",
    "InputError",
    "NonceReusedError",
    "NotFoundError",
    "PermissionDeniedError",
    "PollPolicy",
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
    "ServerError",
    "SignatureError",
    "SpeedPix",
    "SpeedPixError",
    "SpeedPixException",
    "SubmitOutcomeUnknownError",
    "SubmitTimeoutError",
    "SyncInAsyncWarning",
    "TaskResult",
    "TaskStatus",
    "TimestampError",
    "UnsupportedOperationError",
    "UploadedFile",
    "VideoFile",
    "__version__",
    "get_default_client",
    "run",
    "set_default_client",
]
