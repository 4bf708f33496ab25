"""What a track vector is: which model layers, pooled how, and the name rows are stored under.

Kept free of heavy imports: the web process needs the name to read vectors and
index them, not the models (importing analysis.features would load librosa
and onnxruntime, about 100 MiB per web worker).
"""
# Chosen by bench/quality.py on the dev corpus (docs/QUALITY.md): the MSD model's
# pre-ReLU dense layer with the MTT model's penultimate layer retrieved best.
VECTOR_LAYERS = (("msd", "dense"), ("mtt", "penultimate"))
VECTOR_MODEL = "+".join(f"{model}.{layer}" for model, layer in VECTOR_LAYERS) + "/mean"
