"""Perceptual hashing (PDQ): the algorithm, image decoding, and matching by Hamming distance."""
