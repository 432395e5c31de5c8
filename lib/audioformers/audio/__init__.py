"""Audio by kind (as torchaudio splits it): file I/O, signals, the STFT, mu-law, quantisation, dither, headroom."""
