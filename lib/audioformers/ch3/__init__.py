"""Chapter 3 (WaveNet vs transformer): the experiment, its studies and its exercises."""
