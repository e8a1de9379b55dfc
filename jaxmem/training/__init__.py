"""Gradient-trained networks (optax): pure functions of explicit keys, vmapped over seeds.

`jaxmem.training.narrow`: MLPs with a narrow first hidden layer (Yu et al. 2024, Theorem 5.1).
"""
