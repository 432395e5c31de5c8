"""Chapter 2 (raw audio and mu-law): its exercises."""
