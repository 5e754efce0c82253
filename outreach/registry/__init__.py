"""The registry: residents and travelers, their numbers, consent and opt-outs."""
