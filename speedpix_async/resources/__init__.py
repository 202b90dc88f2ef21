"""Resource classes: thin wrappers, one request per method."""

from .predictions import AsyncPredictions

__all__ = ["AsyncPredictions"]
