"""The model step: which provider answers, with which key and model."""

from __future__ import annotations

import asyncio

from hermes_gateway.agent.providers import AUTO_ORDER, PROVIDERS
from hermes_gateway.setup import ModelChoice, Snapshot, run_check
from hermes_gateway.setup.validators import url

from . import prompts as ui

CHOICES = (
    ("OpenRouter — hundreds of models behind one key", "openrouter"),
    ("Nous Portal — the Hermes models", "nous"),
    ("OpenAI", "openai"),
    ("Anthropic", "anthropic"),
    ("A local OpenAI-compatible server (Ollama, vLLM, llama.cpp)", "custom"),
    ("Offline — no model yet; replies explain how to add one", "offline"),
)


def current_provider(snapshot: Snapshot) -> str:
    """The configured provider; for `auto`, the one a present key would pick."""
    model = snapshot.settings.model
    if model.provider != "auto":
        return model.provider
    if model.base_url:
        return "custom"
    for name in AUTO_ORDER:
        if snapshot.settings.env.get(PROVIDERS[name].env_key, "").strip():
            return name
    return "openrouter"


def configure(snapshot: Snapshot) -> ModelChoice:
    ui.heading("Model")
    ui.dim("The agent's replies come from this provider; `/model` in a chat switches later.")
    before = current_provider(snapshot)
    provider = ui.choose("Which model provider?", CHOICES, default=before)
    if provider == "offline":
        ui.dim("The offline agent answers every message with how to configure a real model.")
        return ModelChoice("offline")
    spec = PROVIDERS[provider]
    model = snapshot.settings.model
    same = provider == before
    base_url = ""
    if provider == "custom":
        ui.dim("Ollama serves http://127.0.0.1:11434/v1; vLLM and llama.cpp use :8000/v1.")
        base_url = ui.text(
            "Server URL", (same and model.base_url) or spec.base_url, lambda v: url("URL", v)
        )
    current_key = (same and model.api_key) or snapshot.settings.env.get(spec.env_key, "")
    if spec.key_required:
        ui.dim(f"Stored in .env as {spec.env_key} (mode 0600).")
        key = ui.secret(f"{spec.label} API key", current_key, _key_needed(spec.env_key))
    else:
        ui.dim(f"Most local servers need no key; Enter for none ({spec.env_key}).")
        key = ui.secret("API key (optional)", current_key)
    name = ui.text("Model", (same and _bare(model.default)) or spec.default_model, _named)
    if same and _bare(model.default) == name:
        name = model.default  # keep the user's `provider:model` spelling
    choice = ModelChoice(provider, name, base_url, None if key == current_key else key)
    where = "the server" if provider == "custom" else spec.label
    if ui.confirm(f"Check online now — ask {where} for its list of models?", default=True):
        ui.dim("Checking…")
        values = {"provider": provider, "base_url": base_url, "api_key": key}
        result = asyncio.run(run_check("model", values))
        (ui.ok if result.ok else ui.fail)(result.message)
        if not result.ok:
            ui.dim("Kept anyway: fix it later with `hermes gateway setup` or in config.yaml.")
    return choice


def _bare(name: str) -> str:
    """`openrouter:anthropic/claude…` → `anthropic/claude…` (the provider is asked apart)."""
    head, sep, tail = name.partition(":")
    return tail if sep and head in PROVIDERS else name


def _key_needed(variable: str):  # noqa: ANN202 - a prompts.Check
    return lambda value: None if value.strip() else f"{variable} is required"


def _named(value: str) -> str | None:
    return None if value.strip() and " " not in value.strip() else "the model name has no spaces"
