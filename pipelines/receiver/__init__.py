"""The event receiver: an HTTP sink for CloudEvents, CDEvents and CI/CD webhooks (``lifecycle serve``).

It validates, appends each accepted request to the landing zone as one captured-request NDJSON line,
fsyncs, and only then answers 2xx. It never opens the warehouse: loading is the pipeline's job.

Modules: ``settings`` (configuration and secrets), ``auth`` (per-source authentication),
``detect`` (routing by headers, path and shape; validation), ``landing`` (the durable appender),
``app`` (the Starlette application and the uvicorn runner), ``replay`` (post files to a receiver).
See docs/receiver.md.
"""
