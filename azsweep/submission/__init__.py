"""Submission to an Azure ML workspace through azure-ai-ml: ``bridge`` (workspace, client, checks first,
Azure's errors as one line), ``dry_run`` (the real ``create_or_update`` against an offline transport) and
``from_local`` (``submit --from-local``: the definition a local sweep ran). azure-ai-ml is imported on use."""
