"""How runs are measured: the scored output and its metrics, the evaluation pass, few-label
probes of an embedding, and the quality of generated samples."""
