"""Inference for images, folders and videos: backends, the streaming pipeline, results, CLI, CPU
profiling."""
