"""The config's policies, each a rule that refuses a request with an error naming it.

``policy.require_client_id`` (the request must name its client), ``policy.disabled_aliases``,
``policy.max_prompt_tokens`` (estimated prompt tokens), ``client.providers`` / ``client.models``
(a client's allow-lists) and ``policy.repos`` (the providers a repository may reach: a data-
retention trust rule). Checked against the requested route at admission; ``allowed_providers``
tells routing which providers the request may be moved to. Pure.
"""

from __future__ import annotations

from ..core.config import ClientSettings, PolicySettings
from .directory import Identity
from .errors import PolicyRefused, PromptTooLarge


def repo_rule(policies: PolicySettings, repo: str | None) -> tuple[str, tuple[str, ...]] | None:
    """The repository rule that applies (the longest matching path), or None."""
    if not repo:
        return None
    best: tuple[str, tuple[str, ...]] | None = None
    for path, providers in policies.repos.items():
        if (repo == path or repo.startswith(path.rstrip("/") + "/")) and (
            best is None or len(path) > len(best[0])
        ):
            best = (path, providers)
    return best


def allowed_providers(
    policies: PolicySettings, client: ClientSettings, repo: str | None
) -> frozenset[str] | None:
    """The providers this request may reach (None: any)."""
    allowed: set[str] | None = set(client.providers) if client.providers is not None else None
    rule = repo_rule(policies, repo)
    if rule is not None:
        allowed = set(rule[1]) if allowed is None else allowed & set(rule[1])
    return frozenset(allowed) if allowed is not None else None


def check(
    policies: PolicySettings,
    identity: Identity,
    client: ClientSettings,
    *,
    model: str,
    provider: str,
    upstream_model: str,
    repo: str | None,
    prompt_tokens: int,
) -> None:
    """Raise the first policy that refuses this request."""
    if policies.require_client_id and not identity.explicit:
        raise PolicyRefused(
            "policy require_client_id: this gateway requires every request to name its client; use a "
            "named client's key (`stackbilt-gw clients add`) or send the x-stackbilt-client header",
            rule="policy.require_client_id",
        )
    if model in policies.disabled_aliases:
        raise PolicyRefused(
            f"policy disabled_aliases: the model alias {model!r} is disabled on this gateway",
            rule="policy.disabled_aliases",
        )
    limit = policies.max_prompt_tokens
    if limit is not None and prompt_tokens > limit:
        raise PromptTooLarge(
            f"policy max_prompt_tokens: the prompt is about {prompt_tokens} tokens, over this gateway's "
            f"limit of {limit}",
            rule="policy.max_prompt_tokens",
        )
    name = identity.client
    if client.providers is not None and provider not in client.providers:
        raise PolicyRefused(
            f"clients.{name}.providers: client {name!r} may only reach {', '.join(client.providers)}; "
            f"{model!r} is served by {provider}",
            rule="client.providers",
        )
    if client.models is not None and not {model, upstream_model, f"{provider}/{upstream_model}"} & set(
        client.models
    ):
        raise PolicyRefused(
            f"clients.{name}.models: client {name!r} may only use {', '.join(client.models)}; not {model!r}",
            rule="client.models",
        )
    rule = repo_rule(policies, repo)
    if rule is not None and provider not in rule[1]:
        raise PolicyRefused(
            f"policies.repos.{rule[0]}.providers: repository {rule[0]!r} may only reach "
            f"{', '.join(rule[1])}; {model!r} is served by {provider}",
            rule="policy.repos",
        )
