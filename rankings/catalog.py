"""The starting catalog: authors, providers, categories and models a new install knows.

Loaded by a data migration (and reloadable with ``manage.py load_catalog``); ingest adds
whatever it sees beyond this, flagged for review. Prices are $ per 1M tokens (prompt,
completion) as publicly listed in 2025.
"""

from __future__ import annotations

from datetime import date

AUTHORS: list[tuple[str, str]] = [
    ("google", "Google"),
    ("anthropic", "Anthropic"),
    ("deepseek", "DeepSeek"),
    ("openai", "OpenAI"),
    ("qwen", "Qwen"),
    ("meta-llama", "Meta"),
    ("mistralai", "Mistral"),
    ("x-ai", "xAI"),
    ("moonshotai", "MoonshotAI"),
    ("z-ai", "Z.AI"),
    ("nvidia", "NVIDIA"),
    ("cohere", "Cohere"),
    ("microsoft", "Microsoft"),
    ("amazon", "Amazon"),
    ("minimax", "MiniMax"),
]

PROVIDERS: list[tuple[str, str]] = [
    ("google-vertex", "Google Vertex"),
    ("google-ai-studio", "Google AI Studio"),
    ("anthropic", "Anthropic"),
    ("amazon-bedrock", "Amazon Bedrock"),
    ("openai", "OpenAI"),
    ("azure", "Azure"),
    ("deepseek", "DeepSeek"),
    ("together", "Together"),
    ("fireworks", "Fireworks"),
    ("deepinfra", "DeepInfra"),
    ("groq", "Groq"),
    ("cerebras", "Cerebras"),
    ("novita", "Novita"),
    ("chutes", "Chutes"),
    ("mistral", "Mistral"),
    ("xai", "xAI"),
    ("moonshotai", "Moonshot AI"),
    ("parasail", "Parasail"),
    ("unknown", "(unknown provider)"),
]

# The twelve rankings categories, then "other" for everything unlabelled.
CATEGORIES: list[tuple[str, str]] = [
    ("programming", "Programming"),
    ("roleplay", "Roleplay"),
    ("marketing", "Marketing"),
    ("marketing-seo", "Marketing/SEO"),
    ("technology", "Technology"),
    ("science", "Science"),
    ("translation", "Translation"),
    ("legal", "Legal"),
    ("finance", "Finance"),
    ("health", "Health"),
    ("trivia", "Trivia"),
    ("academia", "Academia"),
    ("other", "Other"),
]
OTHER_CATEGORY = "other"

# The tag keys ranked from the start (key, name); the operator ranks others in the admin.
TAG_KEYS: list[tuple[str, str]] = [
    ("programming_language", "Programming language"),
    ("language", "Language"),
    ("task", "Task"),
]
UNKNOWN_PROVIDER = "unknown"

# slug, name, context length, prompt $/1M, completion $/1M, reasoning, release date (a table: one
# model a line, whatever its length)
# fmt: off
MODELS: list[tuple[str, str, int, float, float, bool, date]] = [
    ("google/gemini-2.5-flash", "Gemini 2.5 Flash", 1_048_576, 0.30, 2.50, True, date(2025, 6, 17)),
    ("google/gemini-2.5-pro", "Gemini 2.5 Pro", 1_048_576, 1.25, 10.0, True, date(2025, 6, 17)),
    ("google/gemini-2.5-flash-lite", "Gemini 2.5 Flash Lite", 1_048_576, 0.10, 0.40, True, date(2025, 7, 22)),
    ("google/gemini-2.0-flash-001", "Gemini 2.0 Flash", 1_048_576, 0.10, 0.40, False, date(2025, 2, 5)),
    ("google/gemma-3-27b-it", "Gemma 3 27B", 131_072, 0.09, 0.17, False, date(2025, 3, 12)),
    ("anthropic/claude-sonnet-4", "Claude Sonnet 4", 1_000_000, 3.0, 15.0, True, date(2025, 5, 22)),
    ("anthropic/claude-sonnet-4.5", "Claude Sonnet 4.5", 1_000_000, 3.0, 15.0, True, date(2025, 9, 29)),
    ("anthropic/claude-3.7-sonnet", "Claude 3.7 Sonnet", 200_000, 3.0, 15.0, True, date(2025, 2, 24)),
    ("anthropic/claude-opus-4.1", "Claude Opus 4.1", 200_000, 15.0, 75.0, True, date(2025, 8, 5)),
    ("anthropic/claude-3.5-haiku", "Claude 3.5 Haiku", 200_000, 0.80, 4.0, False, date(2024, 11, 4)),
    ("deepseek/deepseek-chat-v3-0324", "DeepSeek V3 0324", 163_840, 0.25, 0.85, False, date(2025, 3, 24)),
    ("deepseek/deepseek-r1-0528", "DeepSeek R1 0528", 163_840, 0.50, 2.15, True, date(2025, 5, 28)),
    ("deepseek/deepseek-chat-v3.1", "DeepSeek V3.1", 163_840, 0.27, 1.00, True, date(2025, 8, 21)),
    ("deepseek/deepseek-r1", "DeepSeek R1", 163_840, 0.40, 2.00, True, date(2025, 1, 20)),
    ("openai/gpt-4.1", "GPT-4.1", 1_047_576, 2.0, 8.0, False, date(2025, 4, 14)),
    ("openai/gpt-4.1-mini", "GPT-4.1 Mini", 1_047_576, 0.40, 1.60, False, date(2025, 4, 14)),
    ("openai/gpt-4o-mini", "GPT-4o-mini", 128_000, 0.15, 0.60, False, date(2024, 7, 18)),
    ("openai/gpt-5", "GPT-5", 400_000, 1.25, 10.0, True, date(2025, 8, 7)),
    ("openai/gpt-5-mini", "GPT-5 Mini", 400_000, 0.25, 2.0, True, date(2025, 8, 7)),
    ("openai/gpt-oss-120b", "gpt-oss-120b", 131_072, 0.07, 0.28, True, date(2025, 8, 5)),
    ("openai/o4-mini", "o4 Mini", 200_000, 1.10, 4.40, True, date(2025, 4, 16)),
    ("qwen/qwen3-coder", "Qwen3 Coder 480B A35B", 262_144, 0.22, 0.95, False, date(2025, 7, 23)),
    ("qwen/qwen3-235b-a22b-2507", "Qwen3 235B A22B 2507", 262_144, 0.12, 0.59, False, date(2025, 7, 21)),
    ("qwen/qwen3-30b-a3b", "Qwen3 30B A3B", 40_960, 0.06, 0.22, True, date(2025, 4, 28)),
    ("qwen/qwen-2.5-72b-instruct", "Qwen2.5 72B Instruct", 32_768, 0.10, 0.40, False, date(2024, 9, 19)),
    ("meta-llama/llama-3.3-70b-instruct", "Llama 3.3 70B Instruct", 131_072, 0.13, 0.39, False, date(2024, 12, 6)),
    ("meta-llama/llama-4-maverick", "Llama 4 Maverick", 1_048_576, 0.15, 0.60, False, date(2025, 4, 5)),
    ("meta-llama/llama-4-scout", "Llama 4 Scout", 1_048_576, 0.08, 0.30, False, date(2025, 4, 5)),
    ("meta-llama/llama-3.1-8b-instruct", "Llama 3.1 8B Instruct", 131_072, 0.02, 0.03, False, date(2024, 7, 23)),
    ("mistralai/mistral-nemo", "Mistral Nemo", 131_072, 0.02, 0.04, False, date(2024, 7, 18)),
    ("mistralai/mistral-small-3.2-24b-instruct", "Mistral Small 3.2 24B", 131_072, 0.05, 0.10, False, date(2025, 6, 20)),
    ("mistralai/mistral-medium-3", "Mistral Medium 3", 131_072, 0.40, 2.0, False, date(2025, 5, 7)),
    ("mistralai/devstral-small", "Devstral Small", 131_072, 0.07, 0.28, False, date(2025, 5, 21)),
    ("mistralai/codestral-2508", "Codestral 2508", 256_000, 0.30, 0.90, False, date(2025, 7, 30)),
    ("x-ai/grok-3-mini", "Grok 3 Mini", 131_072, 0.30, 0.50, True, date(2025, 4, 9)),
    ("x-ai/grok-4", "Grok 4", 256_000, 3.0, 15.0, True, date(2025, 7, 9)),
    ("x-ai/grok-code-fast-1", "Grok Code Fast 1", 256_000, 0.20, 1.50, True, date(2025, 8, 26)),
    ("moonshotai/kimi-k2", "Kimi K2", 131_072, 0.14, 2.49, False, date(2025, 7, 11)),
    ("z-ai/glm-4.5", "GLM 4.5", 131_072, 0.20, 0.20, True, date(2025, 7, 25)),
    ("z-ai/glm-4.5-air", "GLM 4.5 Air", 131_072, 0.14, 0.86, True, date(2025, 7, 25)),
    ("nvidia/llama-3.3-nemotron-super-49b-v1", "Llama 3.3 Nemotron Super 49B", 131_072, 0.13, 0.40, True, date(2025, 4, 8)),
    ("cohere/command-a", "Command A", 256_000, 2.5, 10.0, False, date(2025, 3, 13)),
    ("microsoft/phi-4", "Phi 4", 16_384, 0.06, 0.14, False, date(2025, 1, 10)),
    ("amazon/nova-lite-v1", "Nova Lite 1.0", 300_000, 0.06, 0.24, False, date(2024, 12, 5)),
    ("minimax/minimax-m1", "MiniMax M1", 1_000_000, 0.30, 1.65, True, date(2025, 6, 17)),
]
# fmt: on

# OpenRouter's dated permaslugs (its models' ``canonical_slug``) for starting-catalog models, as
# listed in 2025. Exports name models by these; each is recorded as an alias of its model, and
# the datasets list it as ``model_permaslug``. Other dated slugs (``-YYYY-MM-DD`` or
# ``-YYYYMMDD``) map to their undated model by rule (ingest.resolve).
PERMASLUGS: dict[str, str] = {
    "anthropic/claude-sonnet-4": "anthropic/claude-4-sonnet-20250522",
    "anthropic/claude-sonnet-4.5": "anthropic/claude-4.5-sonnet-20250929",
    "anthropic/claude-opus-4.1": "anthropic/claude-4.1-opus-20250805",
    "anthropic/claude-3.7-sonnet": "anthropic/claude-3-7-sonnet-20250219",
    "anthropic/claude-3.5-haiku": "anthropic/claude-3-5-haiku-20241022",
    "openai/gpt-4o-mini": "openai/gpt-4o-mini-2024-07-18",
    "openai/gpt-4.1": "openai/gpt-4.1-2025-04-14",
    "openai/gpt-4.1-mini": "openai/gpt-4.1-mini-2025-04-14",
    "openai/gpt-5": "openai/gpt-5-2025-08-07",
    "openai/gpt-5-mini": "openai/gpt-5-mini-2025-08-07",
    "openai/o4-mini": "openai/o4-mini-2025-04-16",
}
