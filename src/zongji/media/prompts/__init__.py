"""Shipped voice prompts (8 kHz mono WAV under `prompts/<language>/`), listed in `catalog.py`."""
