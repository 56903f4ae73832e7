"""A photo's way through Satwa: decode, detect, hash, match, link."""
