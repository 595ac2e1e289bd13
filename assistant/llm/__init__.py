"""The generative path: an OpenAI-compatible model that answers (answerer, prompts, guard,
client), the passages a reader reads closer (reading), and the local reader's install (local)."""
