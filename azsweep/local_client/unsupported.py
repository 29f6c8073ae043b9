"""The groups of ``MLClient`` that need a real Azure ML workspace: present on LocalClient, refused when called.

``ml_client.online_endpoints`` works; ``ml_client.online_endpoints.begin_create_or_update(...)``
raises one ``AzsweepError``: ``LocalClient.online_endpoints.begin_create_or_update: online endpoints
need a real Azure ML workspace; use MLClient (or azsweep submit) for this step``.
"""

from __future__ import annotations

from typing import Any

from azsweep.local_client.common import Operations

WORKSPACE = "need a real Azure ML workspace"

# MLClient's groups LocalClient refuses, with why; any other group a later azure-ai-ml adds gets the generic reason
REASONS: dict[str, str] = {
    "online_endpoints": f"online endpoints {WORKSPACE}",
    "online_deployments": f"online deployments {WORKSPACE}",
    "batch_endpoints": f"batch endpoints {WORKSPACE}",
    "batch_deployments": f"batch deployments {WORKSPACE}",
    "serverless_endpoints": f"serverless endpoints {WORKSPACE}",
    "deployment_templates": f"deployment templates {WORKSPACE}",
    "marketplace_subscriptions": f"marketplace subscriptions {WORKSPACE}",
    "azure_openai_deployments": f"Azure OpenAI deployments {WORKSPACE}",
    "workspaces": f"workspaces {WORKSPACE}",
    "workspace_outbound_rules": f"workspace outbound rules {WORKSPACE}",
    "capability_hosts": f"capability hosts {WORKSPACE}",
    "registries": f"registries {WORKSPACE}",
    "connections": f"workspace connections {WORKSPACE}",
    "datastores": f"datastores {WORKSPACE} (local runs read local paths)",
    "feature_stores": f"feature stores {WORKSPACE}",
    "feature_sets": f"feature sets {WORKSPACE}",
    "feature_store_entities": f"feature store entities {WORKSPACE}",
    "indexes": f"indexes {WORKSPACE}",
    "evaluators": f"evaluators {WORKSPACE}",
    "schedules": f"schedules {WORKSPACE}",
    "components": f"components {WORKSPACE} (a local sweep runs the command its trial defines)",
}

# azure.ai.ml.entities types -> the group MLClient.create_or_update / begin_create_or_update sends them to
# (a subclass before its base: a FeatureStore is a Workspace)
ENTITY_GROUPS: tuple[tuple[str, str], ...] = (
    ("Component", "components"),
    ("Datastore", "datastores"),
    ("OnlineEndpoint", "online_endpoints"),
    ("OnlineDeployment", "online_deployments"),
    ("BatchEndpoint", "batch_endpoints"),
    ("BatchDeployment", "batch_deployments"),
    ("FeatureStore", "feature_stores"),
    ("FeatureSet", "feature_sets"),
    ("FeatureStoreEntity", "feature_store_entities"),
    ("Workspace", "workspaces"),
    ("Registry", "registries"),
    ("Schedule", "schedules"),
    ("WorkspaceConnection", "connections"),
    ("Index", "indexes"),
    ("ServerlessEndpoint", "serverless_endpoints"),
    ("MarketplaceSubscription", "marketplace_subscriptions"),
    ("CapabilityHost", "capability_hosts"),
)


class UnsupportedOperations(Operations):
    """``MLClient.<group>`` on LocalClient: every operation of the group raises one clear error when called."""

    def __init__(self, group: str) -> None:
        self.group = group
        self.reason = REASONS.get(group, f"{group.replace('_', ' ')} {WORKSPACE}")

    def __repr__(self) -> str:
        return f"<LocalClient.{self.group}: not available locally: {self.reason}>"


def entity_group(entity: Any) -> str | None:
    """The refused group an azure-ai-ml entity belongs to, or None."""
    import azure.ai.ml.entities as entities

    for type_name, group in ENTITY_GROUPS:
        cls = getattr(entities, type_name, None)
        if isinstance(cls, type) and isinstance(entity, cls):
            return group
    return None
