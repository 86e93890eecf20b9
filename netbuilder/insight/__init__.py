"""See inside one sample: step-through, attributions, embedding projector (no Qt)."""
