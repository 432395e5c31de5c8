"""Chapter 5 (wavelet audio transformers): the experiment, the time-scale task, its study and its exercises."""
