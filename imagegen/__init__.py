"""Shared domain and adapters of the image generation service, used by app/ and worker/."""
