"""The SpeedPix (智作工坊) service: the client, its resources and its profile for the core.

Public names are re-exported from :mod:`speedpix_async`; import them from there.
"""
