"""Chapter 4 (textless audio language modelling): the experiment, its fold study, its study and its exercises."""
