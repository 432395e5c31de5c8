"""The papers' models, each readable top to bottom: WaveNet, the sample transformer, the code LM, the CNN
baselines, the wavelet transformer, the patch tokenizer, SimCLR's encoder, and the fast samplers."""
