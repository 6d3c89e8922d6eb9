"""Model providers: Bedrock request bodies and response parsing per model family."""
