"""Resource classes: thin wrappers, one request per method."""

from .files import AsyncFiles
from .predictions import AsyncPredictions

__all__ = ["AsyncFiles", "AsyncPredictions"]
