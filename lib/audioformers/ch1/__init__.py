"""Chapter 1 (Fourier and spectrograms): its exercises."""
