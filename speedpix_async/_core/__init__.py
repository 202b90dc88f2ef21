"""The service-neutral core: the request pipeline, object-store traffic, the one wait loop,
retry rules, HTTP backends, concurrency helpers and redaction.

Nothing here knows SpeedPix or AI Portrait; each service plugs in as a *profile* (its signer and
its response reader, :mod:`.profile`). See docs/architecture.md.
"""
