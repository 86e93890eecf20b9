"""See inside one sample: the step-through, attributions and the embedding projector."""
