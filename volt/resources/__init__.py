"""Resource groups; each method describes its request once, for both clients."""
