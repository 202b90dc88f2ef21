"""The service-neutral kit: the client shell, the request pipeline, reading answers,
object-store traffic, the one wait loop and what handles share, retry rules, HTTP backends,
concurrency helpers and the journal.

Nothing here knows SpeedPix or AI Portrait; each service plugs in as a *profile* (its signer and
its response reader, :class:`~.answers.ServiceProfile`). See docs/architecture.md.
"""
