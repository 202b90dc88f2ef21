"""The PAI AI Portrait (AI写真) service: check photos, train a personal LoRA, create portraits.

Public names are re-exported from :mod:`speedpix_async`; import them from there.
"""
